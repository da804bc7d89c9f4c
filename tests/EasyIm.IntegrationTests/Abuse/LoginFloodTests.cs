using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Abuse;

/// <summary>
/// Password guessing against one account (issue 13: 20 wrong passwords then the right one used to get 200).
/// Auth counts each account's wrong passwords whichever gateway they came through: after 10 it answers
/// 429 with Retry-After, the right password too, and an unknown account is answered alike. Meanwhile
/// another account from the same address logs in, and the bystanders chat unharmed.
/// </summary>
public abstract class LoginFloodTests(EasyImShape shape)
{
    /// <summary>The shipped per-account budget (Auth:Throttle:LoginFailures).</summary>
    private const int Failures = 10;

    protected EasyImShape Shape => shape;

    [SkippableFact]
    public async Task Twenty_wrong_passwords_then_the_right_one_get_429_with_retry_after_and_another_account_from_the_address_is_served()
    {
        shape.RequireAvailable();
        var victim = await shape.NewUserAsync();
        var neighbour = await shape.NewUserAsync();
        var by = await Bystanders.StartAsync(shape);

        var answers = new List<ThrottledReply>();
        for (var i = 0; i < 20; i++)
            answers.Add(await shape.Http.LoginAsync(victim.Account, $"guess-{i}"));
        var right = await shape.Http.LoginAsync(victim.Account, victim.Password);
        var neighbourLogin = await shape.Http.LoginAsync(neighbour.Account, neighbour.Password);

        Assert.Equal(Enumerable.Repeat(401, Failures).Concat(Enumerable.Repeat(429, 20 - Failures)), answers.Select(a => a.Status));
        Assert.Equal((429, 429), (right.Status, right.Code));
        Assert.InRange(right.RetryAfter ?? 0, 1, 900);
        Assert.Contains("too many failed logins", right.Msg);
        Assert.False(right.Data.TryGetProperty("access_token", out _));
        Assert.Equal(200, neighbourLogin.Status);
        await by.VerifyAsync();
    }

    [SkippableFact]
    public async Task An_unknown_account_is_answered_exactly_like_a_known_one_so_guessing_tells_nothing_about_who_exists()
    {
        shape.RequireAvailable();
        var known = await shape.NewUserAsync();
        var unknown = LoopbackClients.NewAccount();
        var by = await Bystanders.StartAsync(shape);

        async Task<List<(int, int, string)>> GuessAsync(string account)
        {
            var answers = new List<(int, int, string)>();
            for (var i = 0; i < Failures + 2; i++)
            {
                var reply = await shape.Http.LoginAsync(account, "not-the-password");
                answers.Add((reply.Status, reply.Code, reply.Msg));
            }
            return answers;
        }

        Assert.Equal(await GuessAsync(known.Account), await GuessAsync(unknown));
        await by.VerifyAsync();
    }
}

[Collection(StandaloneCollection.Name)]
public sealed class StandaloneLoginFloodTests(StandaloneShape shape) : LoginFloodTests(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedLoginFloodTests(DistributedShape shape) : LoginFloodTests(shape)
{
    [SkippableFact]
    public async Task Wrong_passwords_spread_over_two_gateways_count_against_one_budget_in_auth()
    {
        shape.RequireAvailable();
        var victim = await shape.NewUserAsync();
        var by = await Bystanders.StartAsync(shape);
        using var second = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{shape.SecondGatewayApiPort}"), Timeout = TimeSpan.FromSeconds(30) };

        var statuses = new List<int>();
        for (var i = 0; i < 10; i++)
            statuses.Add((await (i % 2 == 0 ? shape.Http : second).LoginAsync(victim.Account, $"guess-{i}")).Status);
        var rightOnFirst = await shape.Http.LoginAsync(victim.Account, victim.Password);
        var rightOnSecond = await second.LoginAsync(victim.Account, victim.Password);

        Assert.All(statuses, s => Assert.Equal(401, s));
        Assert.Equal(429, rightOnFirst.Status);
        Assert.Equal(429, rightOnSecond.Status);
        Assert.NotNull(rightOnSecond.RetryAfter);
        await by.VerifyAsync();
    }
}

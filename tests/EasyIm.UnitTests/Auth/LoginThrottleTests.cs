using EasyIm.Auth.Security;
using EasyIm.Contracts.Auth;
using EasyIm.Hosting;

namespace EasyIm.UnitTests.Auth;

public class LoginThrottleTests
{
    [Fact]
    public async Task Twenty_wrong_passwords_then_the_right_one_is_refused_429_with_a_retry_after()
    {
        await using var auth = await AuthHarness.StartAsync();
        var account = await auth.RegisterAccountAsync();

        var codes = new List<int>();
        for (var i = 0; i < 20; i++)
            codes.Add((await auth.LoginAsync(account, $"wrong-{i}")).Rejected!.Code);
        var (session, rejected) = await auth.LoginAsync(account, "right-password");

        Assert.Equal(Enumerable.Repeat(401, 10).Concat(Enumerable.Repeat(429, 10)), codes);
        Assert.Null(session);
        Assert.Equal(429, rejected!.Code);
        // One failure comes back every window / failures: 900 s / 10.
        Assert.InRange(rejected.RetryAfterSeconds!.Value, 1, 90);
        Assert.Contains("too many failed logins", rejected.Message);
        await auth.AssertNoFaultsAsync();
    }

    [Fact]
    public async Task An_unknown_account_is_answered_and_locked_exactly_like_a_known_one()
    {
        await using var auth = await AuthHarness.StartAsync(throttle: new LoginThrottleOptions { LoginFailures = 3 });
        var known = await auth.RegisterAccountAsync();
        var unknown = "nobody" + Guid.NewGuid().ToString("N")[..8];

        async Task<List<(int, string, string?)>> TryFourTimesAsync(string account)
        {
            var answers = new List<(int, string, string?)>();
            for (var i = 0; i < 4; i++)
            {
                var rejected = (await auth.LoginAsync(account, "wrong-password")).Rejected!;
                answers.Add((rejected.Code, rejected.Message, rejected.Field));
            }
            return answers;
        }

        Assert.Equal(await TryFourTimesAsync(known), await TryFourTimesAsync(unknown));
    }

    [Fact]
    public async Task Another_account_keeps_its_own_budget_and_a_right_password_within_budget_logs_in()
    {
        await using var auth = await AuthHarness.StartAsync(throttle: new LoginThrottleOptions { LoginFailures = 3 });
        var locked = await auth.RegisterAccountAsync();
        var other = await auth.RegisterAccountAsync();
        for (var i = 0; i < 4; i++)
            await auth.LoginAsync(locked, "wrong-password");

        Assert.Equal(401, (await auth.LoginAsync(other, "wrong-password")).Rejected!.Code);
        Assert.NotNull((await auth.LoginAsync(other, "right-password")).Ok);
        Assert.Equal(429, (await auth.LoginAsync(locked, "right-password")).Rejected!.Code);
    }

    [Fact]
    public async Task Concurrent_wrong_guesses_are_counted_one_by_one_and_never_pass_the_budget()
    {
        await using var auth = await AuthHarness.StartAsync(throttle: new LoginThrottleOptions { LoginFailures = 5, AccountQueue = 100 });
        var account = await auth.RegisterAccountAsync();

        var answers = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => auth.LoginAsync(account, $"wrong-{i}")));

        Assert.Equal(5, answers.Count(a => a.Rejected!.Code == 401));
        Assert.Equal(35, answers.Count(a => a.Rejected!.Code == 429));
        Assert.Equal(429, (await auth.LoginAsync(account, "right-password")).Rejected!.Code);
    }

    [Fact]
    public async Task Twenty_wrong_passwords_sent_at_once_then_the_right_one_is_refused_as_when_sent_in_turn()
    {
        await using var auth = await AuthHarness.StartAsync();
        var account = await auth.RegisterAccountAsync();

        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => auth.LoginAsync(account, $"wrong-{i}")));
        var (session, rejected) = await auth.LoginAsync(account, "right-password");

        Assert.Equal(10, answers.Count(a => a.Rejected!.Code == 401));
        Assert.Equal(10, answers.Count(a => a.Rejected!.Code == 429));
        Assert.Null(session);
        Assert.Equal(429, rejected!.Code);
    }

    [Fact]
    public async Task More_logins_of_one_account_at_once_than_its_queue_holds_are_refused_at_once_not_counted()
    {
        await using var auth = await AuthHarness.StartAsync(throttle: new LoginThrottleOptions { LoginFailures = 100, AccountQueue = 0 });
        var account = await auth.RegisterAccountAsync();
        var key = AccountRules.Key(account);

        // Someone else's check of the account is under way.
        using (var turn = await auth.Throttle.WaitForTurnAsync(key, CancellationToken.None))
        {
            Assert.True(turn.IsAcquired);
            var (_, rejected) = await auth.LoginAsync(account, "right-password");
            Assert.Equal(429, rejected!.Code);
            Assert.Equal(1, rejected.RetryAfterSeconds);
        }
        Assert.NotNull((await auth.LoginAsync(account, "right-password")).Ok);
    }

    [Fact]
    public async Task When_every_hash_slot_and_the_queue_are_taken_logins_and_registrations_get_503_at_once()
    {
        await using var auth = await AuthHarness.StartAsync(throttle: new LoginThrottleOptions { HashConcurrency = 1, HashQueue = 0, LoginFailures = 1 });
        var account = await auth.RegisterAccountAsync();

        using (var hashing = await auth.Throttle.WaitToHashAsync(CancellationToken.None))
        {
            Assert.True(hashing.IsAcquired);
            var login = (await auth.LoginAsync(account, "right-password")).Rejected!;
            var register = (await auth.AskAsync<RegisterUser, UserSessionIssued>(new RegisterUser("u" + Guid.NewGuid().ToString("N")[..12], "right-password", ""))).Rejected!;
            Assert.Equal((503, 1), (login.Code, login.RetryAfterSeconds));
            Assert.Equal((503, 1), (register.Code, register.RetryAfterSeconds));
        }
        // A refusal for load is not a wrong password: the account's one failure is still there.
        Assert.NotNull((await auth.LoginAsync(account, "right-password")).Ok);
    }

    [Fact]
    public async Task Hashes_run_on_threads_below_the_normal_priority_so_chat_goes_first_when_the_cpu_is_short()
    {
        if (!OperatingSystem.IsLinux())
            return;
        using var throttle = new LoginThrottle(new LoginThrottleOptions());

        var (ran, nice) = await throttle.TryHashAsync(() =>
        {
            // /proc/thread-self/stat: "tid (name) state ..."; nice is the 19th field, the 17th after the name.
            var stat = File.ReadAllText("/proc/thread-self/stat");
            return int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[16]);
        }, CancellationToken.None);

        Assert.True(ran);
        Assert.Equal(HashWorkers.Nice, nice);
    }

    [Fact]
    public void Hashing_defaults_to_half_the_cores_and_at_least_one()
    {
        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 2), new LoginThrottleOptions().EffectiveHashConcurrency);
        Assert.Equal(3, new LoginThrottleOptions { HashConcurrency = 3 }.EffectiveHashConcurrency);
    }

    [Theory]
    [InlineData(nameof(LoginThrottleOptions.LoginFailures), 0)]
    [InlineData(nameof(LoginThrottleOptions.LoginFailureWindowSeconds), 0)]
    [InlineData(nameof(LoginThrottleOptions.HashConcurrency), -1)]
    [InlineData(nameof(LoginThrottleOptions.HashQueue), -1)]
    [InlineData(nameof(LoginThrottleOptions.AccountQueue), -1)]
    public void A_setting_that_cannot_work_stops_the_start_naming_its_key(string key, int value)
    {
        var options = new LoginThrottleOptions();
        typeof(LoginThrottleOptions).GetProperty(key)!.SetValue(options, value);

        var ex = Assert.Throws<StartupException>(options.Validate);

        Assert.Contains($"Auth:Throttle:{key}", ex.Message);
    }
}

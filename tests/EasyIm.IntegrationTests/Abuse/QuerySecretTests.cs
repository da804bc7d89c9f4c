using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Abuse;

/// <summary>
/// Secrets in URLs (issue 13: <c>/api/user/login?password=</c> was accepted): a password or refresh token in a
/// query string is refused 400 on every route, the stop route is gone from both ports, and an access token
/// in the query still works on GET routes only (easyim's clients send it there).
/// </summary>
public abstract class QuerySecretTests(EasyImShape shape)
{
    [SkippableFact]
    public async Task A_password_or_refresh_token_in_the_query_is_refused_400_on_every_route_and_nothing_is_done()
    {
        shape.RequireAvailable();
        var user = await shape.NewUserAsync();
        var by = await Bystanders.StartAsync(shape);
        var account = LoopbackClients.NewAccount();

        var register = await shape.Http.PostAsync($"/api/user/register?account={account}&password=pass-word-1", new { });
        var loginQueryOnly = await shape.Http.PostAsync($"/api/user/login?account={user.Account}&password={user.Password}", new { });
        var loginBoth = await shape.Http.PostAsync($"/api/user/login?password={user.Password}", new { account = user.Account, password = user.Password });
        var refresh = await shape.Http.PostAsync($"/api/user/refresh_token?grant_type=access_token&refresh_token={user.RefreshToken}", new { });
        var check = await shape.GetAsync($"/api/user/check_token?token={user.AccessToken}&refresh_token={user.RefreshToken}");
        var upperCase = await shape.Http.PostAsync($"/api/user/login?PASSWORD={user.Password}", new { account = user.Account, password = user.Password });
        var elsewhere = await shape.GetAsync($"/health/live?password=x");

        foreach (var (reply, field) in new[] { (register, "password"), (loginQueryOnly, "password"), (loginBoth, "password"), (refresh, "refresh_token"), (upperCase, "password") })
        {
            Assert.Equal((400, 400), (reply.Status, reply.Code));
            Assert.Equal(field, reply.Data.GetProperty("field").GetString());
            Assert.Contains("query string", reply.Msg);
        }
        Assert.Equal(400, check.Status);
        Assert.Equal(400, elsewhere.Status);
        // Refused before anything was done: no account was made.
        Assert.Equal(401, (await shape.Http.LoginAsync(account, "pass-word-1")).Status);
        await by.VerifyAsync();
    }

    [SkippableFact]
    public async Task An_access_token_in_the_query_works_on_GET_and_is_refused_on_POST()
    {
        shape.RequireAvailable();
        var user = await shape.NewUserAsync();
        var by = await Bystanders.StartAsync(shape);

        var get = await shape.GetAsync($"/api/user/friends?access_token={user.AccessToken}");
        var post = await shape.Http.PostAsync($"/api/user/logout?access_token={user.AccessToken}", new { });

        Assert.Equal(200, get.Status);
        Assert.Equal(400, post.Status);
        Assert.Equal("access_token", post.Data.GetProperty("field").GetString());
        // The refused logout did nothing: the token still works.
        Assert.Equal(200, (await shape.GetAsync("/api/user/friends", user.AccessToken)).Status);
        await by.VerifyAsync();
    }

    [SkippableFact]
    public async Task The_local_stop_route_is_gone_from_both_ports_and_the_server_keeps_serving()
    {
        shape.RequireAvailable();
        var by = await Bystanders.StartAsync(shape);

        foreach (var port in new[] { shape.ApiPort, shape.SocketPort })
        {
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            using var stop = new HttpRequestMessage(HttpMethod.Post, "/api/local/stop") { Content = new StringContent("", null, "text/plain") };
            stop.Headers.Add("Origin", "http://evil.example");
            using var preflight = new HttpRequestMessage(HttpMethod.Options, "/api/local/stop");
            preflight.Headers.Add("Origin", "http://evil.example");
            preflight.Headers.Add("Access-Control-Request-Method", "POST");
            using var stopped = await http.SendAsync(stop);
            using var preflighted = await http.SendAsync(preflight);

            Assert.Equal(System.Net.HttpStatusCode.NotFound, stopped.StatusCode);
            Assert.NotEqual(System.Net.HttpStatusCode.NoContent, preflighted.StatusCode);
            Assert.False(preflighted.IsSuccessStatusCode);
            // No CORS on it: a page may not even read that it is gone.
            Assert.False(stopped.Headers.Contains("Access-Control-Allow-Origin"));
            Assert.False(preflighted.Headers.Contains("Access-Control-Allow-Origin"));
        }

        Assert.True((await shape.Http.GetAsync("/health/ready")).IsSuccessStatusCode);
        await by.VerifyAsync();
    }
}

[Collection(StandaloneCollection.Name)]
public sealed class StandaloneQuerySecretTests(StandaloneShape shape) : QuerySecretTests(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedQuerySecretTests(DistributedShape shape) : QuerySecretTests(shape);

using EasyIm.IntegrationTests.Shapes;

namespace EasyIm.IntegrationTests.Scenarios;

/// <summary>easyim's user API, end to end: register, login, tokens, logout and secret reset, and bad input.</summary>
public abstract class AuthScenarios(EasyImShape shape)
{
    [SkippableFact]
    public async Task Register_then_login_returns_a_session_for_the_same_user()
    {
        shape.RequireAvailable();
        var account = "a" + Guid.NewGuid().ToString("N")[..10];

        var registered = await shape.PostAsync("/api/user/register", new { account, password = "secret-1", nickname = "小明 🚀" });
        var loggedIn = await shape.PostAsync("/api/user/login", new { account, password = "secret-1" });

        Assert.Equal((200, 200), (registered.Status, registered.Code));
        Assert.Equal(200, loggedIn.Status);
        var id = registered.Data.GetProperty("id").GetString();
        Assert.True(long.TryParse(id, out _), "ids are strings of 64-bit numbers");
        Assert.Equal(id, loggedIn.Data.GetProperty("id").GetString());
        Assert.Equal("小明 🚀", loggedIn.Data.GetProperty("nickname").GetString());
        Assert.False(string.IsNullOrEmpty(loggedIn.Data.GetProperty("avatar").GetString()));
        Assert.Equal(7200, loggedIn.Data.GetProperty("expires_in").GetInt64());
        Assert.NotEqual(loggedIn.Data.GetProperty("access_token").GetString(), loggedIn.Data.GetProperty("refresh_token").GetString());
    }

    [SkippableFact]
    public async Task Accounts_differ_by_more_than_case()
    {
        shape.RequireAvailable();
        var user = await shape.NewUserAsync();

        var again = await shape.PostAsync("/api/user/register", new { account = user.Account.ToUpperInvariant(), password = "other-pass" });
        var login = await shape.PostAsync("/api/user/login", new { account = user.Account.ToUpperInvariant(), password = user.Password });

        Assert.Equal(409, again.Status);
        Assert.Equal(200, login.Status);
    }

    [SkippableFact]
    public async Task Check_token_tells_the_grant_type_and_time_left_of_both_tokens()
    {
        shape.RequireAvailable();
        var user = await shape.NewUserAsync();

        var access = await shape.GetAsync($"/api/user/check_token?token={user.AccessToken}");
        var refresh = await shape.GetAsync($"/api/user/check_token?token={user.RefreshToken}");
        var bearer = await shape.GetAsync("/api/user/check_token", bearer: user.AccessToken);

        Assert.Equal(200, access.Status);
        Assert.Equal("access_token", access.Data.GetProperty("grant_type").GetString());
        Assert.InRange(access.Data.GetProperty("expires_in").GetInt64(), 7000, 7200);
        Assert.Equal("refresh_token", refresh.Data.GetProperty("grant_type").GetString());
        Assert.InRange(refresh.Data.GetProperty("expires_in").GetInt64(), 29 * 86400, 30 * 86400);
        Assert.Equal(200, bearer.Status);
    }

    [SkippableFact]
    public async Task A_refresh_token_buys_a_working_access_token_and_an_access_token_buys_nothing()
    {
        shape.RequireAvailable();
        var user = await shape.NewUserAsync();

        var refreshed = await shape.PostAsync("/api/user/refresh_token", new { grant_type = "access_token", refresh_token = user.RefreshToken });
        var withAccess = await shape.PostAsync("/api/user/refresh_token", new { grant_type = "access_token", refresh_token = user.AccessToken });

        Assert.Equal(200, refreshed.Status);
        Assert.Equal("access_token", refreshed.Data.GetProperty("grant_type").GetString());
        Assert.Equal(7200, refreshed.Data.GetProperty("expires_in").GetInt64());
        var token = refreshed.Data.GetProperty("token").GetString();
        Assert.Equal(200, (await shape.GetAsync($"/api/user/check_token?token={token}")).Status);
        Assert.Equal(401, withAccess.Status);
    }

    [SkippableFact]
    public async Task Logout_revokes_every_token_of_the_user()
    {
        shape.RequireAvailable();
        var user = await shape.NewUserAsync();
        var secondDevice = await shape.PostAsync("/api/user/login", new { account = user.Account, password = user.Password });

        var logout = await shape.PostAsync("/api/user/logout", new { access_token = user.AccessToken });

        Assert.Equal(200, logout.Status);
        Assert.Equal(401, (await shape.GetAsync($"/api/user/check_token?token={user.AccessToken}")).Status);
        Assert.Equal(401, (await shape.GetAsync($"/api/user/check_token?token={user.RefreshToken}")).Status);
        Assert.Equal(401, (await shape.GetAsync($"/api/user/check_token?token={secondDevice.Data.GetProperty("access_token").GetString()}")).Status);
        Assert.Equal(401, (await shape.PostAsync("/api/user/logout", new { access_token = user.AccessToken })).Status);
        // The password still works: logout ends sessions, not the account.
        Assert.Equal(200, (await shape.PostAsync("/api/user/login", new { account = user.Account, password = user.Password })).Status);
    }

    [SkippableFact]
    public async Task Reset_secret_revokes_every_earlier_token_but_the_new_one_works()
    {
        shape.RequireAvailable();
        var user = await shape.NewUserAsync();

        var reset = await shape.PostAsync("/api/user/refresh_token",
            new { grant_type = "refresh_token", refresh_token = user.RefreshToken, reset_secret = true });

        Assert.Equal(200, reset.Status);
        var newRefresh = reset.Data.GetProperty("token").GetString();
        Assert.Equal(401, (await shape.GetAsync($"/api/user/check_token?token={user.AccessToken}")).Status);
        Assert.Equal(401, (await shape.GetAsync($"/api/user/check_token?token={user.RefreshToken}")).Status);
        var check = await shape.GetAsync($"/api/user/check_token?token={newRefresh}");
        Assert.Equal(200, check.Status);
        Assert.Equal("refresh_token", check.Data.GetProperty("grant_type").GetString());
    }

    [SkippableFact]
    public async Task Each_refresh_rotates_the_refresh_token_and_an_easyim_client_finds_the_new_one_in_token()
    {
        shape.RequireAvailable();
        var user = await shape.NewUserAsync();

        // An easyim client asks for a refresh token and keeps `token`, refresh after refresh.
        var first = await shape.PostAsync("/api/user/refresh_token", new { grant_type = "refresh_token", refresh_token = user.RefreshToken });
        var next = first.Data.GetProperty("token").GetString()!;
        var second = await shape.PostAsync("/api/user/refresh_token", new { grant_type = "refresh_token", refresh_token = next });
        // A client asking for an access token gets it in `token`, and the whole new pair beside it.
        var third = await shape.PostAsync("/api/user/refresh_token",
            new { grant_type = "access_token", refresh_token = second.Data.GetProperty("token").GetString() });

        Assert.Equal((200, 200, 200), (first.Status, second.Status, third.Status));
        Assert.Equal(next, first.Data.GetProperty("refresh_token").GetString());
        Assert.Equal(30 * 86400, first.Data.GetProperty("expires_in").GetInt64());
        Assert.Equal(401, (await shape.GetAsync($"/api/user/check_token?token={user.RefreshToken}")).Status);
        Assert.Equal(third.Data.GetProperty("token").GetString(), third.Data.GetProperty("access_token").GetString());
        Assert.Equal(7200, third.Data.GetProperty("expires_in").GetInt64());
        Assert.Equal(200, (await shape.GetAsync("/api/user/friends", bearer: third.Data.GetProperty("access_token").GetString())).Status);
        Assert.Equal(200, (await shape.GetAsync($"/api/user/check_token?token={third.Data.GetProperty("refresh_token").GetString()}")).Status);
    }

    [SkippableFact]
    public async Task Unknown_account_and_wrong_password_answer_alike()
    {
        shape.RequireAvailable();
        var user = await shape.NewUserAsync();

        var wrongPassword = await shape.PostAsync("/api/user/login", new { account = user.Account, password = "not-the-password" });
        var unknownAccount = await shape.PostAsync("/api/user/login", new { account = "nobody" + Guid.NewGuid().ToString("N")[..8], password = "not-the-password" });

        Assert.Equal(401, wrongPassword.Status);
        Assert.Equal((wrongPassword.Status, wrongPassword.Code, wrongPassword.Msg), (unknownAccount.Status, unknownAccount.Code, unknownAccount.Msg));
    }

    [SkippableFact]
    public async Task A_duplicate_account_is_refused_and_the_first_user_is_unchanged()
    {
        shape.RequireAvailable();
        var user = await shape.NewUserAsync("first");

        var duplicate = await shape.PostAsync("/api/user/register", new { account = user.Account, password = "another-pass", nickname = "second" });

        Assert.Equal((409, 409), (duplicate.Status, duplicate.Code));
        var login = await shape.PostAsync("/api/user/login", new { account = user.Account, password = user.Password });
        Assert.Equal(200, login.Status);
        Assert.Equal("first", login.Data.GetProperty("nickname").GetString());
        Assert.Equal(401, (await shape.PostAsync("/api/user/login", new { account = user.Account, password = "another-pass" })).Status);
    }

    [SkippableFact]
    public async Task Concurrent_registrations_of_one_account_store_exactly_one_user()
    {
        shape.RequireAvailable();
        var account = "race" + Guid.NewGuid().ToString("N")[..10];

        var replies = await Task.WhenAll(Enumerable.Range(0, 6).Select(i =>
            shape.PostAsync("/api/user/register", new { account, password = $"password-{i}" })));

        Assert.Single(replies, r => r.Status == 200);
        Assert.All(replies.Where(r => r.Status != 200), r => Assert.Equal(409, r.Status));
        var winner = Array.FindIndex(replies, r => r.Status == 200);
        Assert.Equal(200, (await shape.PostAsync("/api/user/login", new { account, password = $"password-{winner}" })).Status);
    }

    public static TheoryData<string, string, int> BadRegistrations => new()
    {
        { "{\"account\":\"abc\",\"password\":\"secret-1\"", "", 400 },               // truncated JSON
        { """not json at all""", "", 400 },
        { """[1,2,3]""", "", 400 },                                                  // not an object
        { """{"password":"secret-1"}""", "account", 400 },                           // missing
        { """{"account":"abc"}""", "password", 400 },
        { """{"account":12345,"password":"secret-1"}""", "account", 400 },           // wrong type
        { """{"account":"abc","password":["x"]}""", "password", 400 },
        { """{"account":"ab","password":"secret-1"}""", "account", 400 },            // too short
        { """{"account":"has space","password":"secret-1"}""", "account", 400 },     // bad characters
        { """{"account":"abc","password":"12345"}""", "password", 400 },             // password too short
        { $$"""{"account":"{{new string('a', 65)}}","password":"secret-1"}""", "account", 400 },
        { $$"""{"account":"abcd","password":"{{new string('p', 129)}}"}""", "password", 400 },
        { $$"""{"account":"abcd","password":"secret-1","nickname":"{{new string('n', 33)}}"}""", "nickname", 400 },
        { """{"account":"abcd","password":"secret-1","nickname":{"x":1}}""", "nickname", 400 },
    };

    [SkippableTheory]
    [MemberData(nameof(BadRegistrations))]
    public async Task Bad_registration_input_is_refused_naming_the_field_and_stores_nothing(string body, string field, int status)
    {
        shape.RequireAvailable();
        // Make the account in the body unique, so that "stores nothing" can be checked by logging in.
        var account = "bad" + Guid.NewGuid().ToString("N")[..8];
        var unique = body.Replace("\"abc\"", $"\"{account}\"").Replace("\"abcd\"", $"\"{account}\"");

        var reply = await shape.PostAsync("/api/user/register", unique);

        Assert.Equal((status, status), (reply.Status, reply.Code));
        Assert.False(string.IsNullOrWhiteSpace(reply.Msg));
        if (field.Length > 0)
        {
            Assert.Equal(field, reply.Data.GetProperty("field").GetString());
            Assert.Contains(field, reply.Msg);
        }
        Assert.Equal(401, (await shape.PostAsync("/api/user/login", new { account, password = "secret-1" })).Status);
        // And the server goes on serving everyone else.
        await shape.NewUserAsync();
    }

    [SkippableFact]
    public async Task An_oversized_body_is_refused_with_413()
    {
        shape.RequireAvailable();
        var huge = $$"""{"account":"abcdef","password":"{{new string('x', 200_000)}}"}""";

        var reply = await shape.PostAsync("/api/user/register", huge);

        Assert.Equal(413, reply.Status);
    }

    [SkippableFact]
    public async Task Garbage_tokens_are_refused_without_harm()
    {
        shape.RequireAvailable();

        Assert.Equal(401, (await shape.GetAsync("/api/user/check_token?token=not.a.jwt")).Status);
        Assert.Equal(400, (await shape.GetAsync("/api/user/check_token?token=" + new string('a', 5000))).Status); // over-long
        Assert.Equal(400, (await shape.GetAsync("/api/user/check_token")).Status);
        Assert.Equal(400, (await shape.PostAsync("/api/user/logout", "{}")).Status);
        Assert.Equal(400, (await shape.PostAsync("/api/user/refresh_token", new { grant_type = "password", refresh_token = "x" })).Status);
        Assert.Equal(400, (await shape.PostAsync("/api/user/refresh_token", new { grant_type = "access_token", refresh_token = "x", reset_secret = "yes" })).Status);
    }

    [SkippableFact]
    public async Task Cors_is_open_and_options_is_answered_on_any_path()
    {
        shape.RequireAvailable();
        using var preflight = new HttpRequestMessage(HttpMethod.Options, "/api/user/login");
        preflight.Headers.Add("Origin", "http://example.test");
        preflight.Headers.Add("Access-Control-Request-Method", "POST");
        preflight.Headers.Add("Access-Control-Request-Headers", "content-type,authorization");
        using var plain = new HttpRequestMessage(HttpMethod.Options, "/anything/at/all");

        var preflightResponse = await shape.Http.SendAsync(preflight);
        var plainResponse = await shape.Http.SendAsync(plain);

        Assert.True(preflightResponse.IsSuccessStatusCode);
        Assert.Equal("*", preflightResponse.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.True(plainResponse.IsSuccessStatusCode);
    }

    [SkippableFact]
    public async Task The_api_is_described_by_an_openapi_document_and_a_reference_page()
    {
        shape.RequireAvailable();

        var document = await shape.Http.GetStringAsync("/openapi/v1.json");
        var page = await shape.Http.GetAsync("/scalar/v1");

        Assert.Contains("/api/user/register", document);
        Assert.Contains("/api/user/refresh_token", document);
        Assert.Contains("/api/group/settings", document);
        Assert.True(page.IsSuccessStatusCode);
    }

    [SkippableFact]
    public async Task Health_endpoints_answer()
    {
        shape.RequireAvailable();

        Assert.True((await shape.Http.GetAsync("/health/live")).IsSuccessStatusCode);
        Assert.True((await shape.Http.GetAsync("/health/ready")).IsSuccessStatusCode);
    }
}

[Collection(StandaloneCollection.Name)]
public sealed class StandaloneAuthScenarios(StandaloneShape shape) : AuthScenarios(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedAuthScenarios(DistributedShape shape) : AuthScenarios(shape);

using System.Text.Json;
using EasyIm.IntegrationTests.Shapes;
using static EasyIm.IntegrationTests.Scenarios.FriendSteps;

namespace EasyIm.IntegrationTests.Scenarios;

/// <summary>Steps the friends and group scenarios share.</summary>
internal static class FriendSteps
{
    public static async Task<string> InviteAsync(this EasyImShape shape, TestUser from, TestUser to, string? msg = null)
    {
        var reply = await shape.PostAsync("/api/user/friend/add", new { to_user_id = to.Id.ToString(), msg }, from.AccessToken);
        Assert.True(reply.Status == 200, $"invite: {reply.Status} {reply.Msg}");
        return reply.Data.GetProperty("id").GetString()!;
    }

    public static async Task BefriendAsync(this EasyImShape shape, TestUser a, TestUser b)
    {
        var request = await shape.InviteAsync(a, b);
        var accepted = await shape.PostAsync("/api/user/friend/accept", new { id = request }, b.AccessToken);
        Assert.True(accepted.Status == 200, $"accept: {accepted.Status} {accepted.Msg}");
    }

    public static async Task<List<JsonElement>> ItemsAsync(this EasyImShape shape, string path, TestUser user)
    {
        var reply = await shape.GetAsync(path, user.AccessToken);
        Assert.True(reply.Status == 200, $"GET {path}: {reply.Status} {reply.Msg}");
        var items = reply.Data.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(items.Count, reply.Data.GetProperty("total").GetInt32());
        return items;
    }

    public static async Task<List<string>> FriendIdsAsync(this EasyImShape shape, TestUser user) =>
        (await shape.ItemsAsync("/api/user/friends", user)).Select(f => f.GetProperty("id").GetString()!).ToList();

    public static string Str(this JsonElement element, string property) => element.GetProperty(property).GetString()!;

    /// <summary>The answer is an error with this status, in the envelope, naming this field.</summary>
    public static void AssertRefused(ApiReply reply, int status, string? field)
    {
        Assert.True((status, status) == (reply.Status, reply.Code), $"expected {status}, got {reply.Status}/{reply.Code} {reply.Msg}");
        Assert.False(string.IsNullOrWhiteSpace(reply.Msg));
        if (field is not null)
            Assert.Equal(field, reply.Data.GetProperty("field").GetString());
    }
}

/// <summary>Friend requests, friendships and user search over the HTTP API, end to end.</summary>
public abstract class FriendsScenarios(EasyImShape shape)
{
    [SkippableFact]
    public async Task Invite_then_accept_and_both_see_each_other_in_their_friend_lists()
    {
        shape.RequireAvailable();
        var alice = await shape.NewUserAsync("Alice 小红");
        var bob = await shape.NewUserAsync();

        var requestId = await shape.InviteAsync(alice, bob, "hi bob, it's alice");
        var pending = Assert.Single(await shape.ItemsAsync("/api/user/friend/requests", bob));
        var accepted = await shape.PostAsync("/api/user/friend/accept", new { id = requestId }, bob.AccessToken);

        Assert.True(long.TryParse(requestId, out _), "ids are strings of 64-bit numbers");
        Assert.Equal((requestId, alice.Id.ToString(), alice.Account, "Alice 小红", "hi bob, it's alice"),
            (pending.Str("id"), pending.Str("from_user_id"), pending.Str("account"), pending.Str("nickname"), pending.Str("msg")));
        Assert.True(DateTimeOffset.TryParse(pending.Str("created_at"), out var createdAt));
        Assert.InRange(createdAt, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(5));
        Assert.Equal(200, accepted.Status);
        Assert.Equal((requestId, alice.Id.ToString()), (accepted.Data.Str("id"), accepted.Data.Str("friend_id")));
        var alicesFriend = Assert.Single(await shape.ItemsAsync("/api/user/friends", alice));
        Assert.Equal((bob.Id.ToString(), bob.Account, bob.Account), (alicesFriend.Str("id"), alicesFriend.Str("account"), alicesFriend.Str("nickname")));
        Assert.False(string.IsNullOrEmpty(alicesFriend.Str("avatar")));
        Assert.Equal([alice.Id.ToString()], await shape.FriendIdsAsync(bob));
        Assert.Empty(await shape.ItemsAsync("/api/user/friend/requests", bob));
        // Friends now: a second invitation is a conflict, and a second accept too.
        AssertRefused(await shape.PostAsync("/api/user/friend/add", new { to_user_id = alice.Id.ToString() }, bob.AccessToken), 409, "to_user_id");
        AssertRefused(await shape.PostAsync("/api/user/friend/accept", new { id = requestId }, bob.AccessToken), 409, "id");
    }

    [SkippableFact]
    public async Task The_inviter_may_be_named_instead_of_the_request_and_ids_may_be_numbers()
    {
        shape.RequireAvailable();
        var alice = await shape.NewUserAsync();
        var bob = await shape.NewUserAsync();

        var invited = await shape.PostAsync("/api/user/friend/add", $$"""{"to_user_id":{{bob.Id}}}""", alice.AccessToken);
        var accepted = await shape.PostAsync("/api/user/friend/accept", $$"""{"from_user_id":{{alice.Id}}}""", bob.AccessToken);

        Assert.Equal(200, invited.Status);
        Assert.Equal(200, accepted.Status);
        Assert.Equal(invited.Data.Str("id"), accepted.Data.Str("id"));
        Assert.Equal([bob.Id.ToString()], await shape.FriendIdsAsync(alice));
    }

    [SkippableFact]
    public async Task A_rejected_request_makes_no_friendship_and_the_inviter_may_ask_again()
    {
        shape.RequireAvailable();
        var alice = await shape.NewUserAsync();
        var bob = await shape.NewUserAsync();
        var requestId = await shape.InviteAsync(alice, bob);

        var rejected = await shape.PostAsync("/api/user/friend/reject", new { id = requestId }, bob.AccessToken);

        Assert.Equal(200, rejected.Status);
        Assert.Equal(requestId, rejected.Data.Str("id"));
        Assert.Empty(await shape.ItemsAsync("/api/user/friend/requests", bob));
        Assert.Empty(await shape.FriendIdsAsync(alice));
        Assert.Empty(await shape.FriendIdsAsync(bob));
        AssertRefused(await shape.PostAsync("/api/user/friend/accept", new { id = requestId }, bob.AccessToken), 409, "id");
        var again = await shape.InviteAsync(alice, bob, "second try");
        Assert.NotEqual(requestId, again);
        Assert.Equal("second try", Assert.Single(await shape.ItemsAsync("/api/user/friend/requests", bob)).Str("msg"));
    }

    [SkippableFact]
    public async Task Removing_a_friend_ends_the_friendship_for_both_sides()
    {
        shape.RequireAvailable();
        var alice = await shape.NewUserAsync();
        var bob = await shape.NewUserAsync();
        var carol = await shape.NewUserAsync();
        await shape.BefriendAsync(alice, bob);
        await shape.BefriendAsync(alice, carol);

        var removed = await shape.PostAsync("/api/user/friend/remove", new { friend_id = bob.Id.ToString() }, alice.AccessToken);

        Assert.Equal(200, removed.Status);
        Assert.Equal([carol.Id.ToString()], await shape.FriendIdsAsync(alice));
        Assert.Empty(await shape.FriendIdsAsync(bob));
        AssertRefused(await shape.PostAsync("/api/user/friend/remove", new { friend_id = alice.Id.ToString() }, bob.AccessToken), 404, "friend_id");
        // They may become friends again.
        await shape.BefriendAsync(bob, alice);
        Assert.Equal([alice.Id.ToString()], await shape.FriendIdsAsync(bob));
    }

    [SkippableFact]
    public async Task A_user_is_searchable_and_invitable_the_moment_registration_returns()
    {
        shape.RequireAvailable();
        var searcher = await shape.NewUserAsync();
        var tag = Guid.NewGuid().ToString("N")[..8];
        var account = "Fresh_" + tag;

        var registered = await shape.PostAsync("/api/user/register", new { account, password = "pass-word-1", nickname = "Brand New " + tag });
        var byAccount = await shape.ItemsAsync($"/api/user/search?keyword={account.ToUpperInvariant()}", searcher);
        var byNickname = await shape.ItemsAsync($"/api/user/search?keyword={Uri.EscapeDataString("new " + tag)}", searcher);
        var invited = await shape.PostAsync("/api/user/friend/add", new { to_user_id = registered.Data.Str("id") }, searcher.AccessToken);

        Assert.Equal(200, registered.Status);
        var found = Assert.Single(byAccount);
        Assert.Equal((registered.Data.Str("id"), account, "Brand New " + tag), (found.Str("id"), found.Str("account"), found.Str("nickname")));
        Assert.Equal(registered.Data.Str("id"), Assert.Single(byNickname).Str("id"));
        Assert.Equal(200, invited.Status);
    }

    [SkippableFact]
    public async Task Search_leaves_out_the_caller_and_matches_wildcards_and_quotes_literally()
    {
        shape.RequireAvailable();
        var tag = Guid.NewGuid().ToString("N")[..8];
        var odd = await shape.NewUserAsync($"a%_{tag}'\"");
        var me = await shape.NewUserAsync($"me {tag}");

        var literal = await shape.ItemsAsync($"/api/user/search?keyword={Uri.EscapeDataString($"%_{tag}'\"")}", me);
        var asPattern = await shape.ItemsAsync($"/api/user/search?keyword={Uri.EscapeDataString($"_%{tag}")}", me);
        var injection = await shape.ItemsAsync($"/api/user/search?keyword={Uri.EscapeDataString($"{tag}' OR '1'='1")}", me);
        var mine = await shape.ItemsAsync($"/api/user/search?keyword={tag}", me);

        Assert.Equal(odd.Id.ToString(), Assert.Single(literal).Str("id"));
        Assert.Empty(asPattern);
        Assert.Empty(injection);
        Assert.Equal([odd.Id.ToString()], mine.Select(u => u.Str("id")));
    }

    [SkippableFact]
    public async Task Only_the_invitee_can_accept_or_reject()
    {
        shape.RequireAvailable();
        var alice = await shape.NewUserAsync();
        var bob = await shape.NewUserAsync();
        var mallory = await shape.NewUserAsync();
        var requestId = await shape.InviteAsync(alice, bob);

        AssertRefused(await shape.PostAsync("/api/user/friend/accept", new { id = requestId }, alice.AccessToken), 403, "id");
        AssertRefused(await shape.PostAsync("/api/user/friend/accept", new { id = requestId }, mallory.AccessToken), 403, "id");
        AssertRefused(await shape.PostAsync("/api/user/friend/reject", new { id = requestId }, mallory.AccessToken), 403, "id");
        AssertRefused(await shape.PostAsync("/api/user/friend/accept", new { from_user_id = alice.Id.ToString() }, mallory.AccessToken), 404, "from_user_id");
        Assert.Empty(await shape.FriendIdsAsync(alice));
        Assert.Empty(await shape.FriendIdsAsync(mallory));

        Assert.Equal(200, (await shape.PostAsync("/api/user/friend/accept", new { id = requestId }, bob.AccessToken)).Status);
        Assert.Equal([bob.Id.ToString()], await shape.FriendIdsAsync(alice));
    }

    [SkippableFact]
    public async Task Duplicate_crossed_and_self_invitations_are_refused()
    {
        shape.RequireAvailable();
        var alice = await shape.NewUserAsync();
        var bob = await shape.NewUserAsync();
        var requestId = await shape.InviteAsync(alice, bob);

        AssertRefused(await shape.PostAsync("/api/user/friend/add", new { to_user_id = bob.Id.ToString() }, alice.AccessToken), 409, "to_user_id");
        var crossed = await shape.PostAsync("/api/user/friend/add", new { to_user_id = alice.Id.ToString() }, bob.AccessToken);
        AssertRefused(crossed, 409, "to_user_id");
        Assert.Contains(requestId, crossed.Msg);
        AssertRefused(await shape.PostAsync("/api/user/friend/add", new { to_user_id = alice.Id.ToString() }, alice.AccessToken), 400, "to_user_id");
        Assert.Single(await shape.ItemsAsync("/api/user/friend/requests", bob));
        Assert.Empty(await shape.ItemsAsync("/api/user/friend/requests", alice));
    }

    [SkippableFact]
    public async Task The_token_may_come_in_the_query_or_the_body_and_a_revoked_one_is_refused()
    {
        shape.RequireAvailable();
        var alice = await shape.NewUserAsync();
        var bob = await shape.NewUserAsync();

        var viaBody = await shape.PostAsync("/api/user/friend/add", new { to_user_id = bob.Id.ToString(), access_token = alice.AccessToken });
        var viaQuery = await shape.GetAsync($"/api/user/friend/requests?access_token={bob.AccessToken}");
        await shape.PostAsync("/api/user/logout", new { access_token = bob.AccessToken });
        var afterLogout = await shape.GetAsync("/api/user/friends", bob.AccessToken);

        Assert.Equal(200, viaBody.Status);
        Assert.Equal(200, viaQuery.Status);
        Assert.Equal(viaBody.Data.Str("id"), Assert.Single(viaQuery.Data.GetProperty("items").EnumerateArray()).Str("id"));
        AssertRefused(afterLogout, 401, "access_token");
    }

    /// <summary>(method, path, body, token mode, status, field). Bodies may say {self}, {other}, {unknown}.</summary>
    public static TheoryData<string, string, string, string, int, string> BadCalls => new()
    {
        { "GET", "/api/user/friends", "", "none", 401, "access_token" },
        { "GET", "/api/user/friends", "", "garbage", 401, "access_token" },
        { "POST", "/api/user/friend/add", """{"to_user_id":"{other}"}""", "none", 401, "access_token" },
        { "POST", "/api/user/friend/add", """{"to_user_id":"{other}"}""", "garbage", 401, "access_token" },
        { "GET", "/api/user/search?keyword=abc", "", "garbage", 401, "access_token" },
        { "GET", "/api/user/friend/requests", "", "none", 401, "access_token" },
        { "POST", "/api/user/friend/add", "{}", "bearer", 400, "to_user_id" },
        { "POST", "/api/user/friend/add", """{"to_user_id":""}""", "bearer", 400, "to_user_id" },
        { "POST", "/api/user/friend/add", """{"to_user_id":"abc"}""", "bearer", 400, "to_user_id" },
        { "POST", "/api/user/friend/add", """{"to_user_id":true}""", "bearer", 400, "to_user_id" },
        { "POST", "/api/user/friend/add", """{"to_user_id":-5}""", "bearer", 400, "to_user_id" },
        { "POST", "/api/user/friend/add", """{"to_user_id":1.5}""", "bearer", 400, "to_user_id" },
        { "POST", "/api/user/friend/add", """{"to_user_id":"99999999999999999999999"}""", "bearer", 400, "to_user_id" },
        { "POST", "/api/user/friend/add", """{"to_user_id":"{unknown}"}""", "bearer", 404, "to_user_id" },
        { "POST", "/api/user/friend/add", """{"to_user_id":"{self}"}""", "bearer", 400, "to_user_id" },
        { "POST", "/api/user/friend/add", """{"to_user_id":"{other}","msg":42}""", "bearer", 400, "msg" },
        { "POST", "/api/user/friend/add", $$"""{"to_user_id":"{other}","msg":"{{new string('m', 257)}}"}""", "bearer", 400, "msg" },
        { "POST", "/api/user/friend/add", """{"to_user_id":"{other}" """, "bearer", 400, "" },
        { "POST", "/api/user/friend/add", """["{other}"]""", "bearer", 400, "" },
        { "POST", "/api/user/friend/accept", "{}", "bearer", 400, "id" },
        { "POST", "/api/user/friend/accept", """{"id":"x1"}""", "bearer", 400, "id" },
        { "POST", "/api/user/friend/accept", """{"id":["1"]}""", "bearer", 400, "id" },
        { "POST", "/api/user/friend/accept", """{"from_user_id":"nope"}""", "bearer", 400, "from_user_id" },
        { "POST", "/api/user/friend/accept", """{"id":"{unknown}"}""", "bearer", 404, "id" },
        { "POST", "/api/user/friend/reject", "{}", "bearer", 400, "id" },
        { "POST", "/api/user/friend/reject", """{"id":"{unknown}"}""", "bearer", 404, "id" },
        { "POST", "/api/user/friend/remove", "{}", "bearer", 400, "friend_id" },
        { "POST", "/api/user/friend/remove", """{"friend_id":{}}""", "bearer", 400, "friend_id" },
        { "POST", "/api/user/friend/remove", """{"friend_id":"{other}"}""", "bearer", 404, "friend_id" },
        { "POST", "/api/user/friend/remove", """{"friend_id":"{self}"}""", "bearer", 400, "friend_id" },
        { "GET", "/api/user/search", "", "bearer", 400, "keyword" },
        { "GET", "/api/user/search?keyword=", "", "bearer", 400, "keyword" },
        { "GET", "/api/user/search?keyword=%20%20", "", "bearer", 400, "keyword" },
        { "GET", $"/api/user/search?keyword={new string('k', 65)}", "", "bearer", 400, "keyword" },
    };

    [SkippableTheory]
    [MemberData(nameof(BadCalls))]
    public async Task Bad_input_is_refused_naming_the_field_stores_nothing_and_the_server_keeps_serving(
        string method, string path, string body, string tokenMode, int status, string field)
    {
        shape.RequireAvailable();
        var me = await shape.NewUserAsync();
        var other = await shape.NewUserAsync();
        string Fill(string text) => text.Replace("{self}", me.Id.ToString()).Replace("{other}", other.Id.ToString())
            .Replace("{unknown}", "1234567890123");
        var token = tokenMode switch
        {
            "bearer" => me.AccessToken,
            "garbage" => "not.a.token",
            _ => null,
        };

        var reply = method == "GET" ? await shape.GetAsync(Fill(path), token) : await shape.PostAsync(Fill(path), Fill(body), token);

        AssertRefused(reply, status, field.Length > 0 ? field : null);
        Assert.Empty(await shape.ItemsAsync("/api/user/friend/requests", other));
        Assert.Empty(await shape.FriendIdsAsync(me));
        // And the server goes on serving everyone else.
        var third = await shape.NewUserAsync();
        await shape.BefriendAsync(me, third);
        Assert.Equal([third.Id.ToString()], await shape.FriendIdsAsync(me));
    }
}

[Collection(StandaloneCollection.Name)]
public sealed class StandaloneFriendsScenarios(StandaloneShape shape) : FriendsScenarios(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedFriendsScenarios(DistributedShape shape) : FriendsScenarios(shape);

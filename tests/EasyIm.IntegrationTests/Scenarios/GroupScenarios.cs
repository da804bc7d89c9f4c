using System.Text.Json;
using EasyIm.IntegrationTests.Shapes;
using static EasyIm.IntegrationTests.Scenarios.FriendSteps;

namespace EasyIm.IntegrationTests.Scenarios;

/// <summary>Groups over the HTTP API, end to end: made of friends, listed, extended, left, dismissed.</summary>
public abstract class GroupScenarios(EasyImShape shape)
{
    private async Task<string> CreateAsync(TestUser owner, string name, params TestUser[] members)
    {
        var reply = await shape.PostAsync("/api/group/create",
            new { name, member_ids = members.Select(m => m.Id.ToString()).ToArray() }, owner.AccessToken);
        Assert.True(reply.Status == 200, $"create: {reply.Status} {reply.Msg}");
        return reply.Data.Str("id");
    }

    private Task<List<JsonElement>> MembersAsync(TestUser user, string group) =>
        shape.ItemsAsync($"/api/group/members?group_id={group}", user);

    private Task<List<JsonElement>> GroupsAsync(TestUser user) => shape.ItemsAsync("/api/group/list", user);

    [SkippableFact]
    public async Task A_group_of_friends_is_created_listed_extended_by_invitation_and_its_members_listed()
    {
        shape.RequireAvailable();
        var owner = await shape.NewUserAsync("Owner");
        var bob = await shape.NewUserAsync("Bob");
        var carol = await shape.NewUserAsync("Carol");
        await shape.BefriendAsync(owner, bob);
        await shape.BefriendAsync(carol, owner);

        var group = await CreateAsync(owner, "Weekend 🚲", bob);
        var listedByBob = Assert.Single(await GroupsAsync(bob));
        var invited = await shape.PostAsync("/api/group/invite", new { group_id = group, user_ids = new[] { carol.Id.ToString() } }, owner.AccessToken);
        var members = await MembersAsync(carol, group);

        Assert.True(long.TryParse(group, out _), "ids are strings of 64-bit numbers");
        Assert.Equal((group, "Weekend 🚲", owner.Id.ToString(), 2),
            (listedByBob.Str("id"), listedByBob.Str("name"), listedByBob.Str("owner_id"), listedByBob.GetProperty("member_count").GetInt32()));
        Assert.Equal(200, invited.Status);
        Assert.Equal((group, 3), (invited.Data.Str("id"), invited.Data.GetProperty("member_count").GetInt32()));
        Assert.Equal([(owner.Id.ToString(), "owner", "Owner"), (bob.Id.ToString(), "member", "Bob"), (carol.Id.ToString(), "member", "Carol")],
            members.Select(m => (m.Str("id"), m.Str("role"), m.Str("nickname"))));
        Assert.All(members, m => Assert.False(string.IsNullOrEmpty(m.Str("account")) || string.IsNullOrEmpty(m.Str("avatar"))));
        Assert.Equal(3, Assert.Single(await GroupsAsync(owner)).GetProperty("member_count").GetInt32());
        Assert.Equal(group, Assert.Single(await GroupsAsync(carol)).Str("id"));
    }

    [SkippableFact]
    public async Task Any_member_may_invite_their_own_friends_and_members_already_in_are_skipped()
    {
        shape.RequireAvailable();
        var owner = await shape.NewUserAsync();
        var bob = await shape.NewUserAsync();
        var dave = await shape.NewUserAsync();
        await shape.BefriendAsync(owner, bob);
        await shape.BefriendAsync(bob, dave);
        var group = await CreateAsync(owner, "g", bob);

        // Ids as JSON numbers are accepted too.
        var invited = await shape.PostAsync("/api/group/invite", $$"""{"group_id":{{group}},"user_ids":[{{dave.Id}},{{owner.Id}},{{bob.Id}}]}""", bob.AccessToken);

        Assert.Equal(200, invited.Status);
        Assert.Equal(3, invited.Data.GetProperty("member_count").GetInt32());
        Assert.Equal(3, (await MembersAsync(dave, group)).Count);
    }

    [SkippableFact]
    public async Task Non_members_may_not_list_the_members_nor_invite()
    {
        shape.RequireAvailable();
        var owner = await shape.NewUserAsync();
        var bob = await shape.NewUserAsync();
        var outsider = await shape.NewUserAsync();
        await shape.BefriendAsync(owner, bob);
        await shape.BefriendAsync(outsider, bob);
        var group = await CreateAsync(owner, "private", bob);

        AssertRefused(await shape.GetAsync($"/api/group/members?group_id={group}", outsider.AccessToken), 403, "group_id");
        AssertRefused(await shape.PostAsync("/api/group/invite", new { group_id = group, user_ids = new[] { bob.Id.ToString() } }, outsider.AccessToken), 403, "group_id");
        Assert.Empty(await GroupsAsync(outsider));
        Assert.Equal(2, (await MembersAsync(owner, group)).Count);
    }

    [SkippableFact]
    public async Task Someone_who_is_not_a_friend_is_refused_on_create_and_on_invite()
    {
        shape.RequireAvailable();
        var owner = await shape.NewUserAsync();
        var bob = await shape.NewUserAsync();
        var stranger = await shape.NewUserAsync();
        await shape.BefriendAsync(owner, bob);

        var create = await shape.PostAsync("/api/group/create",
            new { name = "no strangers", member_ids = new[] { bob.Id.ToString(), stranger.Id.ToString() } }, owner.AccessToken);
        var group = await CreateAsync(owner, "friends only", bob);
        var invite = await shape.PostAsync("/api/group/invite", new { group_id = group, user_ids = new[] { stranger.Id.ToString() } }, owner.AccessToken);

        AssertRefused(create, 403, "member_ids");
        Assert.Contains(stranger.Id.ToString(), create.Msg);
        AssertRefused(invite, 403, "user_ids");
        Assert.Equal(["friends only"], (await GroupsAsync(owner)).Select(g => g.Str("name")));
        Assert.Empty(await GroupsAsync(stranger));
        Assert.Equal(2, (await MembersAsync(bob, group)).Count);
    }

    [SkippableFact]
    public async Task The_owner_leaving_hands_the_group_over_and_the_last_member_leaving_dismisses_it()
    {
        shape.RequireAvailable();
        var owner = await shape.NewUserAsync();
        var bob = await shape.NewUserAsync();
        var carol = await shape.NewUserAsync();
        await shape.BefriendAsync(owner, bob);
        await shape.BefriendAsync(owner, carol);
        var group = await CreateAsync(owner, "g", bob);
        Assert.Equal(200, (await shape.PostAsync("/api/group/invite", new { group_id = group, user_ids = new[] { carol.Id.ToString() } }, owner.AccessToken)).Status);

        var ownerLeft = await shape.PostAsync("/api/group/leave", new { group_id = group }, owner.AccessToken);

        Assert.Equal(200, ownerLeft.Status);
        Assert.Equal(2, ownerLeft.Data.GetProperty("member_count").GetInt32());
        Assert.Empty(await GroupsAsync(owner));
        Assert.Equal(bob.Id.ToString(), Assert.Single(await GroupsAsync(carol)).Str("owner_id"));
        Assert.Equal([(bob.Id.ToString(), "owner"), (carol.Id.ToString(), "member")],
            (await MembersAsync(carol, group)).Select(m => (m.Str("id"), m.Str("role"))));
        AssertRefused(await shape.GetAsync($"/api/group/members?group_id={group}", owner.AccessToken), 403, "group_id");
        AssertRefused(await shape.PostAsync("/api/group/leave", new { group_id = group }, owner.AccessToken), 403, "group_id");

        Assert.Equal(1, (await shape.PostAsync("/api/group/leave", new { group_id = group }, bob.AccessToken)).Data.GetProperty("member_count").GetInt32());
        Assert.Equal(carol.Id.ToString(), Assert.Single(await GroupsAsync(carol)).Str("owner_id"));
        var lastLeft = await shape.PostAsync("/api/group/leave", new { group_id = group }, carol.AccessToken);

        Assert.Equal(200, lastLeft.Status);
        Assert.Equal(0, lastLeft.Data.GetProperty("member_count").GetInt32());
        Assert.Empty(await GroupsAsync(carol));
        AssertRefused(await shape.GetAsync($"/api/group/members?group_id={group}", carol.AccessToken), 404, "group_id");
        AssertRefused(await shape.PostAsync("/api/group/invite", new { group_id = group, user_ids = new[] { owner.Id.ToString() } }, carol.AccessToken), 404, "group_id");
    }

    /// <summary>(method, path, body, token mode, status, field). Bodies may say {friend}, {group}, {unknown}.</summary>
    public static TheoryData<string, string, string, string, int, string> BadCalls => new()
    {
        { "POST", "/api/group/create", """{"name":"g","member_ids":["{friend}"]}""", "none", 401, "access_token" },
        { "POST", "/api/group/create", """{"name":"g","member_ids":["{friend}"]}""", "garbage", 401, "access_token" },
        { "GET", "/api/group/list", "", "none", 401, "access_token" },
        { "GET", "/api/group/list", "", "garbage", 401, "access_token" },
        { "GET", "/api/group/members?group_id={group}", "", "garbage", 401, "access_token" },
        { "POST", "/api/group/leave", """{"group_id":"{group}"}""", "none", 401, "access_token" },
        { "POST", "/api/group/create", """{"member_ids":["{friend}"]}""", "bearer", 400, "name" },
        { "POST", "/api/group/create", """{"name":"","member_ids":["{friend}"]}""", "bearer", 400, "name" },
        { "POST", "/api/group/create", """{"name":"   ","member_ids":["{friend}"]}""", "bearer", 400, "name" },
        { "POST", "/api/group/create", """{"name":7,"member_ids":["{friend}"]}""", "bearer", 400, "name" },
        { "POST", "/api/group/create", $$"""{"name":"{{new string('n', 65)}}","member_ids":["{friend}"]}""", "bearer", 400, "name" },
        { "POST", "/api/group/create", """{"name":"g","member_ids":"{friend}"}""", "bearer", 400, "member_ids" },
        { "POST", "/api/group/create", """{"name":"g","member_ids":["x"]}""", "bearer", 400, "member_ids" },
        { "POST", "/api/group/create", """{"name":"g","member_ids":[null]}""", "bearer", 400, "member_ids" },
        { "POST", "/api/group/create", $$"""{"name":"g","member_ids":[{{string.Join(",", Enumerable.Range(1, 201))}}]}""", "bearer", 400, "member_ids" },
        { "POST", "/api/group/create", """{"name":"g","member_ids":["{unknown}"]}""", "bearer", 403, "member_ids" },
        { "POST", "/api/group/create", """{"name":"g" """, "bearer", 400, "" },
        { "POST", "/api/group/invite", """{"user_ids":["{friend}"]}""", "bearer", 400, "group_id" },
        { "POST", "/api/group/invite", """{"group_id":"g1","user_ids":["{friend}"]}""", "bearer", 400, "group_id" },
        { "POST", "/api/group/invite", """{"group_id":"{group}"}""", "bearer", 400, "user_ids" },
        { "POST", "/api/group/invite", """{"group_id":"{group}","user_ids":[]}""", "bearer", 400, "user_ids" },
        { "POST", "/api/group/invite", """{"group_id":"{group}","user_ids":[true]}""", "bearer", 400, "user_ids" },
        { "POST", "/api/group/invite", """{"group_id":"{unknown}","user_ids":["{friend}"]}""", "bearer", 404, "group_id" },
        { "POST", "/api/group/leave", "{}", "bearer", 400, "group_id" },
        { "POST", "/api/group/leave", """{"group_id":[1]}""", "bearer", 400, "group_id" },
        { "POST", "/api/group/leave", """{"group_id":"{unknown}"}""", "bearer", 404, "group_id" },
        { "GET", "/api/group/members", "", "bearer", 400, "group_id" },
        { "GET", "/api/group/members?group_id=abc", "", "bearer", 400, "group_id" },
        { "GET", "/api/group/members?group_id=-1", "", "bearer", 400, "group_id" },
        { "GET", "/api/group/members?group_id={unknown}", "", "bearer", 404, "group_id" },
    };

    [SkippableTheory]
    [MemberData(nameof(BadCalls))]
    public async Task Bad_input_is_refused_naming_the_field_changes_nothing_and_the_server_keeps_serving(
        string method, string path, string body, string tokenMode, int status, string field)
    {
        shape.RequireAvailable();
        var me = await shape.NewUserAsync();
        var friend = await shape.NewUserAsync();
        await shape.BefriendAsync(me, friend);
        var group = await CreateAsync(me, "existing", friend);
        string Fill(string text) => text.Replace("{friend}", friend.Id.ToString()).Replace("{group}", group).Replace("{unknown}", "1234567890123");
        var token = tokenMode switch
        {
            "bearer" => me.AccessToken,
            "garbage" => "not.a.token",
            _ => null,
        };

        var reply = method == "GET" ? await shape.GetAsync(Fill(path), token) : await shape.PostAsync(Fill(path), Fill(body), token);

        AssertRefused(reply, status, field.Length > 0 ? field : null);
        var groups = await GroupsAsync(me);
        Assert.Equal((group, 2), (Assert.Single(groups).Str("id"), groups[0].GetProperty("member_count").GetInt32()));
        // And the server goes on serving everyone else.
        var other = await shape.NewUserAsync();
        await shape.BefriendAsync(other, friend);
        Assert.Equal(2, (await MembersAsync(friend, await CreateAsync(other, "after", friend))).Count);
    }
}

[Collection(StandaloneCollection.Name)]
public sealed class StandaloneGroupScenarios(StandaloneShape shape) : GroupScenarios(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedGroupScenarios(DistributedShape shape) : GroupScenarios(shape);

using EasyIm.Client;
using EasyIm.IntegrationTests.Scenarios;
using EasyIm.IntegrationTests.Shapes;
using static EasyIm.IntegrationTests.Scenarios.FriendSteps;

namespace EasyIm.IntegrationTests.Abuse;

/// <summary>
/// Attacks on the friends service by one self-registered user, while a bystander pair chats: a group
/// pushed past its size cap (invites racing for the last seats), inviting where the group's policy says
/// only the owner may, friend requests left waiting by the hundred (HTTP and socket), and text the stores
/// refuse. Each runs on a server of this class's own whose caps are small (<see cref="SmallFriendsCaps"/>),
/// so an attack is a few calls and the shared servers keep their defaults.
/// </summary>
public abstract class FriendsAbuse(EasyImShape shape)
{
    private static string[] Ids(IEnumerable<TestUser> users) => users.Select(u => ShapeClients.Id(u.Id)).ToArray();

    private async Task<(TestUser Owner, TestUser[] Friends)> OwnerWithFriendsAsync(int count)
    {
        var owner = await shape.NewUserAsync();
        var friends = new TestUser[count];
        for (var i = 0; i < count; i++)
        {
            friends[i] = await shape.NewUserAsync();
            await shape.BefriendAsync(owner, friends[i]);
        }
        return (owner, friends);
    }

    private async Task<List<string>> MemberIdsAsync(TestUser member, long group) =>
        (await shape.ItemsAsync($"/api/group/members?group_id={group}", member)).Select(m => m.Str("id")).Order().ToList();

    private Task<ApiReply> InviteAsync(TestUser me, long group, params TestUser[] users) =>
        shape.PostAsync("/api/group/invite", new { group_id = ShapeClients.Id(group), user_ids = Ids(users) }, me.AccessToken);

    [SkippableFact]
    public async Task Invites_past_the_group_size_cap_are_refused_409_even_racing_for_the_last_seat_and_the_group_keeps_the_cap()
    {
        shape.RequireAvailable();
        var cap = SmallFriendsCaps.MaxGroupMembers;
        var (owner, friends) = await OwnerWithFriendsAsync(cap + 2);
        // One seat left: the owner and cap - 2 friends.
        var group = await shape.CreateGroupAsync(owner, friends[..(cap - 2)]);
        var seated = await MemberIdsAsync(owner, group);
        var by = await Bystanders.StartAsync(shape);

        // Two at once would pass the cap: refused whole, nobody added.
        var both = await InviteAsync(owner, group, friends[cap - 2], friends[cap - 1]);
        var unchanged = await MemberIdsAsync(owner, group);
        // Four invites race for the one seat: one gets it, the others find the group full.
        var racing = await Task.WhenAll(friends[(cap - 2)..].Select(f => InviteAsync(owner, group, f)));

        await by.VerifyAsync();
        AssertRefused(both, 409, "user_ids");
        Assert.Contains($"at most {cap}", both.Msg);
        Assert.Equal(seated, unchanged);
        Assert.Equal(1, racing.Count(r => r.Status == 200));
        Assert.All(racing.Where(r => r.Status != 200), r => AssertRefused(r, 409, "user_ids"));
        var members = await MemberIdsAsync(owner, group);
        Assert.Equal(cap, members.Count);
        Assert.Equal(cap, racing.Single(r => r.Status == 200).Data.GetProperty("member_count").GetInt32());
        Assert.Equal(cap, Assert.Single(await shape.ItemsAsync("/api/group/list", owner)).GetProperty("member_count").GetInt32());
    }

    [SkippableFact]
    public async Task A_member_inviting_when_only_the_owner_may_is_refused_403_and_the_group_is_unchanged()
    {
        shape.RequireAvailable();
        var (owner, friends) = await OwnerWithFriendsAsync(2);
        var member = friends[0];
        var theirFriend = await shape.NewUserAsync();
        await shape.BefriendAsync(member, theirFriend);
        var group = await shape.CreateGroupAsync(owner, member);
        var by = await Bystanders.StartAsync(shape);

        var bySomeoneElse = await shape.PostAsync("/api/group/settings", new { group_id = ShapeClients.Id(group), invite_policy = "members" }, member.AccessToken);
        var set = await shape.PostAsync("/api/group/settings", new { group_id = ShapeClients.Id(group), invite_policy = "admins" }, owner.AccessToken);
        var refused = await InviteAsync(member, group, theirFriend);
        var membersAfter = await MemberIdsAsync(owner, group);
        var byOwner = await InviteAsync(owner, group, friends[1]);

        await by.VerifyAsync();
        AssertRefused(bySomeoneElse, 403, "group_id");
        Assert.Equal(200, set.Status);
        Assert.Equal(("admins", ShapeClients.Id(group)), (set.Data.Str("invite_policy"), set.Data.Str("id")));
        AssertRefused(refused, 403, "group_id");
        Assert.Equal(new[] { owner, member }.Select(u => ShapeClients.Id(u.Id)).Order(), membersAfter);
        Assert.Equal(200, byOwner.Status);
        Assert.Equal("admins", Assert.Single(await shape.ItemsAsync("/api/group/list", member)).Str("invite_policy"));
    }

    [SkippableFact]
    public async Task Friend_requests_left_waiting_past_the_cap_are_refused_429_over_HTTP_and_the_connection()
    {
        shape.RequireAvailable();
        var cap = SmallFriendsCaps.MaxPendingFriendRequests;
        var spammer = await shape.NewUserAsync();
        var targets = new List<TestUser>();
        for (var i = 0; i < cap + 2; i++)
            targets.Add(await shape.NewUserAsync());
        var by = await Bystanders.StartAsync(shape);

        for (var i = 0; i < cap; i++)
            Assert.Equal(200, (await shape.PostAsync("/api/user/friend/add", new { to_user_id = ShapeClients.Id(targets[i].Id) }, spammer.AccessToken)).Status);
        var overHttp = await shape.PostAsync("/api/user/friend/add", new { to_user_id = ShapeClients.Id(targets[cap].Id), msg = "one more" }, spammer.AccessToken);
        await using var socket = await shape.ConnectAsync(spammer);
        await socket.SendAsync(Frames.Event("FRIEND_INVITE", toUserId: targets[cap + 1].Id));
        var overSocket = await socket.WaitForAsync(m => Frames.IsNotify(m), ShapeClients.Wait);
        // Refused, not dropped: the connection is still served.
        await socket.SendAsync(Frames.Heartbeat(spammer.Id));
        await socket.WaitForAsync(m => Frames.IsEvent(m, Frames.KeepAlive), ShapeClients.Wait);

        await by.VerifyAsync();
        AssertRefused(overHttp, 429, null);
        Assert.Equal(429, Frames.NotifyCode(overSocket));
        Assert.Empty(await shape.ItemsAsync("/api/user/friend/requests", targets[cap]));
        Assert.Empty(await shape.ItemsAsync("/api/user/friend/requests", targets[cap + 1]));
        // Once one is answered there is room again.
        var request = Assert.Single(await shape.ItemsAsync("/api/user/friend/requests", targets[0])).Str("id");
        Assert.Equal(200, (await shape.PostAsync("/api/user/friend/reject", new { id = request }, targets[0].AccessToken)).Status);
        Assert.Equal(200, (await shape.PostAsync("/api/user/friend/add", new { to_user_id = ShapeClients.Id(targets[cap].Id) }, spammer.AccessToken)).Status);
    }

    [SkippableFact]
    public async Task Text_with_NUL_is_refused_400_naming_the_field_in_every_friends_route()
    {
        shape.RequireAvailable();
        var (owner, friends) = await OwnerWithFriendsAsync(1);
        var stranger = await shape.NewUserAsync();
        var by = await Bystanders.StartAsync(shape);

        var note = await shape.PostAsync("/api/user/friend/add", new { to_user_id = ShapeClients.Id(stranger.Id), msg = "hi\u0000" }, owner.AccessToken);
        var keyword = await shape.GetAsync($"/api/user/search?keyword={Uri.EscapeDataString("a\u0000b")}", owner.AccessToken);
        var name = await shape.PostAsync("/api/group/create", new { name = "g\u0000", member_ids = Ids(friends) }, owner.AccessToken);
        await using var socket = await shape.ConnectAsync(owner);
        await socket.SendAsync(Frames.Event("FRIEND_INVITE", new Dictionary<string, object?> { ["msg"] = "\u0000" }, toUserId: stranger.Id));
        var overSocket = await socket.WaitForAsync(m => Frames.IsNotify(m), ShapeClients.Wait);

        await by.VerifyAsync();
        AssertRefused(note, 400, "msg");
        AssertRefused(keyword, 400, "keyword");
        AssertRefused(name, 400, "name");
        Assert.Equal(400, Frames.NotifyCode(overSocket));
        Assert.Empty(await shape.ItemsAsync("/api/user/friend/requests", stranger));
        Assert.Empty(await shape.ItemsAsync("/api/group/list", owner));
        // The same user is still served.
        Assert.Equal(200, (await shape.PostAsync("/api/user/friend/add", new { to_user_id = ShapeClients.Id(stranger.Id), msg = "hi" }, owner.AccessToken)).Status);
    }
}

/// <summary>The caps of the friends abuse suite's own servers: small, so an attack reaches them in a few calls.</summary>
public static class SmallFriendsCaps
{
    public const int MaxGroupMembers = 5;
    public const int MaxPendingFriendRequests = 3;

    public static void Apply(Dictionary<string, string?> settings)
    {
        settings["Friends:MaxGroupMembers"] = MaxGroupMembers.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["Friends:MaxPendingFriendRequests"] = MaxPendingFriendRequests.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}

public sealed class SmallFriendsCapsStandaloneShape : StandaloneShape
{
    protected override void Configure(Dictionary<string, string?> settings) => SmallFriendsCaps.Apply(settings);
}

public sealed class SmallFriendsCapsDistributedShape : DistributedShape
{
    protected override void Configure(Dictionary<string, string?> settings) => SmallFriendsCaps.Apply(settings);
}

[CollectionDefinition(Name)]
public sealed class SmallFriendsCapsStandaloneCollection : ICollectionFixture<SmallFriendsCapsStandaloneShape>
{
    public const string Name = "standalone, small friends caps";
}

[CollectionDefinition(Name)]
public sealed class SmallFriendsCapsDistributedCollection : ICollectionFixture<SmallFriendsCapsDistributedShape>
{
    public const string Name = "distributed, small friends caps";
}

[Collection(SmallFriendsCapsStandaloneCollection.Name)]
public sealed class StandaloneFriendsAbuse(SmallFriendsCapsStandaloneShape shape) : FriendsAbuse(shape);

[Collection(SmallFriendsCapsDistributedCollection.Name)]
public sealed class DistributedFriendsAbuse(SmallFriendsCapsDistributedShape shape) : FriendsAbuse(shape);

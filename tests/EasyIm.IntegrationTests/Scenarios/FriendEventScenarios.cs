using EasyIm.Client;
using EasyIm.IntegrationTests.Shapes;
using static EasyIm.IntegrationTests.Shapes.ShapeClients;

namespace EasyIm.IntegrationTests.Scenarios;

/// <summary>FRIEND_INVITE and FRIEND_AGREE over the long connections, online and offline; FRIEND_REMOVE, GROUP_JOIN, GROUP_LEAVE.</summary>
public abstract class FriendEventScenarios(EasyImShape shape)
{
    [SkippableFact]
    public async Task Two_users_become_friends_over_the_socket_and_see_each_other_in_the_api()
    {
        shape.RequireAvailable();
        var a = await shape.NewUserAsync();
        var b = await shape.NewUserAsync();
        await using var ca = await shape.ConnectAsync(a, ClientTransport.TcpJson);
        await using var cb = await shape.ConnectAsync(b, ClientTransport.WebSocketProtobuf);

        await ca.SendAsync(Frames.Event("FRIEND_INVITE", new Dictionary<string, object?> { ["msg"] = "hi, it's a 😀" }, toUserId: b.Id));
        var invited = await cb.WaitForAsync(m => Frames.IsEvent(m, "FRIEND_INVITE"), Wait);
        var sent = await ca.WaitForAsync(m => Frames.IsEvent(m, "FRIEND_INVITE"), Wait);
        await cb.SendAsync(Frames.Event("FRIEND_AGREE", toUserId: a.Id));
        var agreed = await ca.WaitForAsync(m => Frames.IsEvent(m, "FRIEND_AGREE"), Wait);

        Assert.Equal(Id(a.Id), invited.FromUserId);
        Assert.Equal(Data(sent).GetProperty("id").GetString(), Data(invited).GetProperty("id").GetString());
        Assert.Equal("hi, it's a 😀", Data(invited).GetProperty("msg").GetString());
        Assert.Equal(Id(b.Id), agreed.FromUserId);
        foreach (var (me, other) in new[] { (a, b), (b, a) })
        {
            var friends = await shape.GetAsync("/api/user/friends", me.AccessToken);
            Assert.Contains(friends.Data.GetProperty("items").EnumerateArray(), f => f.GetProperty("id").GetString() == Id(other.Id));
        }
    }

    [SkippableFact]
    public async Task An_invitation_to_an_offline_user_reaches_them_after_their_next_handshake()
    {
        shape.RequireAvailable();
        var a = await shape.NewUserAsync();
        var b = await shape.NewUserAsync();
        var invite = await shape.PostAsync("/api/user/friend/add", new { to_user_id = Id(b.Id), msg = "offline hello" }, a.AccessToken);

        await using var cb = await shape.ConnectAsync(b, ClientTransport.TcpProtobuf);
        var invited = await cb.WaitForAsync(m => Frames.IsEvent(m, "FRIEND_INVITE"), Wait);

        Assert.Equal(invite.Data.GetProperty("id").GetString(), Data(invited).GetProperty("id").GetString());
        Assert.Equal(Id(a.Id), invited.FromUserId);
    }

    [SkippableFact]
    public async Task Accepting_over_http_tells_the_inviter_over_the_socket()
    {
        shape.RequireAvailable();
        var a = await shape.NewUserAsync();
        var b = await shape.NewUserAsync();
        await using var ca = await shape.ConnectAsync(a, ClientTransport.WebSocketJson);
        var invite = await shape.PostAsync("/api/user/friend/add", new { to_user_id = Id(b.Id) }, a.AccessToken);

        await shape.PostAsync("/api/user/friend/accept", new { id = invite.Data.GetProperty("id").GetString() }, b.AccessToken);
        var agreed = await ca.WaitForAsync(m => Frames.IsEvent(m, "FRIEND_AGREE"), Wait);

        Assert.Equal(Id(b.Id), agreed.FromUserId);
        Assert.Equal(invite.Data.GetProperty("id").GetString(), Data(agreed).GetProperty("id").GetString());
    }

    [SkippableFact]
    public async Task Inviting_an_unknown_user_over_the_socket_answers_a_notify_and_the_connection_stays()
    {
        shape.RequireAvailable();
        var a = await shape.NewUserAsync();
        await using var ca = await shape.ConnectAsync(a);

        await ca.SendAsync(Frames.Event("FRIEND_INVITE", toUserId: 999_999_999_999));
        var notify = await ca.WaitForAsync(m => Frames.IsNotify(m), Wait);
        await ca.SendAsync(Frames.Heartbeat(a.Id));
        await ca.WaitForAsync(m => Frames.IsEvent(m, Frames.KeepAlive), Wait);

        Assert.Equal(404, Frames.NotifyCode(notify));
        Assert.False(ca.IsClosed);
    }

    [SkippableFact]
    public async Task Removing_a_friend_over_http_tells_both_sides_over_the_socket()
    {
        shape.RequireAvailable();
        var a = await shape.NewUserAsync();
        var b = await shape.NewUserAsync();
        await shape.MakeFriendsAsync(a, b);
        await using var ca = await shape.ConnectAsync(a, ClientTransport.TcpProtobuf);
        await using var cb = await shape.ConnectAsync(b, ClientTransport.WebSocketJson);

        var removed = await shape.PostAsync("/api/user/friend/remove", new { friend_id = Id(b.Id) }, a.AccessToken);
        var toB = await cb.WaitForAsync(m => Frames.IsEvent(m, "FRIEND_REMOVE"), Wait);
        var toA = await ca.WaitForAsync(m => Frames.IsEvent(m, "FRIEND_REMOVE"), Wait);

        Assert.Equal(200, removed.Status);
        Assert.Equal((Id(a.Id), Id(a.Id)), (toB.FromUserId, Data(toB).GetProperty("user_id").GetString()));
        Assert.Equal((Id(a.Id), Id(b.Id)), (toA.FromUserId, Data(toA).GetProperty("user_id").GetString()));
    }

    [SkippableFact]
    public async Task Every_member_hears_who_joins_a_group_and_who_leaves_it_the_leaver_too()
    {
        shape.RequireAvailable();
        var owner = await shape.NewUserAsync();
        var bob = await shape.NewUserAsync();
        var carol = await shape.NewUserAsync();
        await shape.MakeFriendsAsync(owner, bob);
        await shape.MakeFriendsAsync(owner, carol);
        var group = Id(await shape.CreateGroupAsync(owner, bob));
        await using var co = await shape.ConnectAsync(owner, ClientTransport.WebSocketProtobuf);
        await using var cb = await shape.ConnectAsync(bob, ClientTransport.TcpJson);
        await using var cc = await shape.ConnectAsync(carol, ClientTransport.WebSocketJson);

        var invited = await shape.PostAsync("/api/group/invite", new { group_id = group, user_ids = new[] { Id(carol.Id) } }, owner.AccessToken);
        Assert.Equal(200, invited.Status);
        foreach (var client in new[] { co, cb, cc })
        {
            var joined = await client.WaitForAsync(m => Frames.IsEvent(m, "GROUP_JOIN"), Wait);
            Assert.Equal(Id(owner.Id), joined.FromUserId);
            Assert.Equal(group, Data(joined).GetProperty("group_id").GetString());
            Assert.Equal([Id(carol.Id)], Data(joined).GetProperty("user_ids").EnumerateArray().Select(u => u.GetString()));
            Assert.Equal(3, Data(joined).GetProperty("member_count").GetInt32());
        }

        var left = await shape.PostAsync("/api/group/leave", new { group_id = group }, bob.AccessToken);
        Assert.Equal(200, left.Status);
        foreach (var client in new[] { co, cb, cc })
        {
            var leave = await client.WaitForAsync(m => Frames.IsEvent(m, "GROUP_LEAVE"), Wait);
            Assert.Equal((Id(bob.Id), Id(bob.Id)), (leave.FromUserId, Data(leave).GetProperty("user_id").GetString()));
            Assert.Equal((group, 2), (Data(leave).GetProperty("group_id").GetString(), Data(leave).GetProperty("member_count").GetInt32()));
        }
    }
}

[Collection(StandaloneCollection.Name)]
public sealed class StandaloneFriendEventScenarios(StandaloneShape shape) : FriendEventScenarios(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedFriendEventScenarios(DistributedShape shape) : FriendEventScenarios(shape);

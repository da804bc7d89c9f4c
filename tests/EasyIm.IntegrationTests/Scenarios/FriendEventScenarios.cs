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
            // The group's creation is a GROUP_JOIN too, and reaches the stream a moment after its answer: it may come live
            // to the owner's and bob's connections made just after. This one is carol's.
            var joined = await client.WaitForAsync(m => Frames.IsEvent(m, "GROUP_JOIN")
                && Data(m).GetProperty("user_ids").EnumerateArray().Any(u => u.GetString() == Id(carol.Id)), Wait);
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

    private static IEnumerable<(string Key, long Position)> Events(ApiReply page) =>
        page.Data.GetProperty("updates").EnumerateArray()
            .Select(u => (u.GetProperty("data").GetProperty("key").GetString()!, u.GetProperty("data").GetProperty("position").GetInt64()));

    [SkippableFact]
    public async Task What_a_user_missed_while_offline_is_in_their_update_stream_in_order_with_positions_without_gaps()
    {
        shape.RequireAvailable();
        var a = await shape.NewUserAsync();
        var b = await shape.NewUserAsync();
        // All while b has no connection: an invitation, a group, the end of the friendship, a leave.
        var invite = await shape.PostAsync("/api/user/friend/add", new { to_user_id = Id(b.Id) }, a.AccessToken);
        Assert.Equal(200, (await shape.PostAsync("/api/user/friend/accept", new { id = invite.Data.GetProperty("id").GetString() }, b.AccessToken)).Status);
        var group = await shape.PostAsync("/api/group/create", new { name = "g", member_ids = new[] { Id(b.Id) } }, a.AccessToken);
        Assert.Equal(200, group.Status);
        Assert.Equal(200, (await shape.PostAsync("/api/user/friend/remove", new { friend_id = Id(a.Id) }, b.AccessToken)).Status);
        Assert.Equal(200, (await shape.PostAsync("/api/group/leave", new { group_id = group.Data.GetProperty("id").GetString() }, a.AccessToken)).Status);
        await shape.StreamHoldsAsync(b, 4);
        await shape.StreamHoldsAsync(a, 4);

        var all = await shape.GetAsync("/api/user/updates?after=0", b.AccessToken);
        var rest = await shape.GetAsync("/api/user/updates?after=2", b.AccessToken);
        var first = await shape.GetAsync("/api/user/updates?after=0&limit=2", b.AccessToken);
        var inviters = await shape.GetAsync("/api/user/updates", a.AccessToken);

        Assert.Equal([("FRIEND_INVITE", 1L), ("GROUP_JOIN", 2L), ("FRIEND_REMOVE", 3L), ("GROUP_LEAVE", 4L)], Events(all));
        Assert.Equal((4L, 1L, false), (all.Data.GetProperty("last").GetInt64(), all.Data.GetProperty("oldest").GetInt64(), all.Data.GetProperty("more").GetBoolean()));
        Assert.Equal([("FRIEND_REMOVE", 3L), ("GROUP_LEAVE", 4L)], Events(rest));
        Assert.Equal([("FRIEND_INVITE", 1L), ("GROUP_JOIN", 2L)], Events(first));
        Assert.True(first.Data.GetProperty("more").GetBoolean());
        Assert.Equal([("FRIEND_AGREE", 1L), ("GROUP_JOIN", 2L), ("FRIEND_REMOVE", 3L), ("GROUP_LEAVE", 4L)], Events(inviters));

        // The client library reads the same page.
        using var api = EasyImApi.Connect("127.0.0.1", shape.ApiPort);
        api.AccessToken = b.AccessToken;
        var viaClient = await api.UpdatesAsync(after: 1, limit: 2);
        Assert.Equal([2L, 3L], viaClient.Events.Select(ApiUpdates.PositionOf));
        Assert.Equal((4L, 1L, true), (viaClient.Last, viaClient.Oldest, viaClient.More));

        // A live push carries its position too: the next one.
        await using var cb = await shape.ConnectAsync(b, ClientTransport.WebSocketJson);
        await shape.PostAsync("/api/user/friend/add", new { to_user_id = Id(b.Id) }, a.AccessToken);
        var live = await cb.WaitForAsync(m => Frames.IsEvent(m, "FRIEND_INVITE") && Data(m).TryGetProperty("position", out _), Wait);
        Assert.Equal(5, Data(live).GetProperty("position").GetInt64());
    }

    [SkippableFact]
    public async Task A_SYNC_with_updates_after_a_position_brings_the_events_missed_since_in_order_before_its_done()
    {
        shape.RequireAvailable();
        var a = await shape.NewUserAsync();
        var b = await shape.NewUserAsync();
        var invite = await shape.PostAsync("/api/user/friend/add", new { to_user_id = Id(b.Id) }, a.AccessToken);
        await shape.PostAsync("/api/user/friend/accept", new { id = invite.Data.GetProperty("id").GetString() }, b.AccessToken);
        // b has applied position 1 (the invitation); the rest happens while it is away.
        var group = await shape.PostAsync("/api/group/create", new { name = "g", member_ids = new[] { Id(b.Id) } }, a.AccessToken);
        await shape.PostAsync("/api/user/friend/remove", new { friend_id = Id(b.Id) }, a.AccessToken);
        Assert.Equal(200, group.Status);
        await shape.StreamHoldsAsync(b, 3);

        await using var cb = await shape.ConnectAsync(b, ClientTransport.WebSocketProtobuf);
        await cb.SendAsync(Frames.Event("SYNC", new Dictionary<string, object?> { ["updates_after"] = 1 }));
        var seen = new List<(string Key, long Position)>();
        while (true)
        {
            var frame = await cb.WaitForAsync(m => Frames.IsEvent(m, "GROUP_JOIN") || Frames.IsEvent(m, "FRIEND_REMOVE") || Frames.IsEvent(m, "SYNC"), Wait);
            if (Frames.IsEvent(frame, "SYNC"))
            {
                if (seen.Count >= 2)
                    break;
                continue;
            }
            seen.Add((Data(frame).GetProperty("key").GetString()!, Data(frame).GetProperty("position").GetInt64()));
        }

        Assert.Equal([("GROUP_JOIN", 2L), ("FRIEND_REMOVE", 3L)], seen);
    }

    [SkippableFact]
    public async Task A_SYNC_with_a_bad_updates_after_is_refused_400_naming_it()
    {
        shape.RequireAvailable();
        var a = await shape.NewUserAsync();
        await using var ca = await shape.ConnectAsync(a, ClientTransport.TcpJson);

        await ca.SendAsync(Frames.Event("SYNC", new Dictionary<string, object?> { ["updates_after"] = -3 }));
        var notify = await ca.WaitForAsync(m => Frames.IsNotify(m), Wait);

        Assert.Equal(400, Frames.NotifyCode(notify));
        Assert.Contains("updates_after", notify.Content);
    }

    [SkippableTheory]
    [InlineData("/api/user/updates?after=-1", "bearer", 400, "after")]
    [InlineData("/api/user/updates?after=x", "bearer", 400, "after")]
    [InlineData("/api/user/updates?limit=0", "bearer", 400, "limit")]
    [InlineData("/api/user/updates?limit=501", "bearer", 400, "limit")]
    [InlineData("/api/user/updates", "none", 401, "access_token")]
    public async Task The_update_stream_refuses_bad_input_naming_the_field(string path, string token, int status, string field)
    {
        shape.RequireAvailable();
        var a = await shape.NewUserAsync();

        var reply = await shape.GetAsync(path, token == "bearer" ? a.AccessToken : null);

        Assert.Equal(status, reply.Status);
        Assert.Contains(field, reply.Msg);
    }
}

[Collection(StandaloneCollection.Name)]
public sealed class StandaloneFriendEventScenarios(StandaloneShape shape) : FriendEventScenarios(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedFriendEventScenarios(DistributedShape shape) : FriendEventScenarios(shape);

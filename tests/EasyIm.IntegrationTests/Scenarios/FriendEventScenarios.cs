using EasyIm.Client;
using EasyIm.IntegrationTests.Shapes;
using static EasyIm.IntegrationTests.Shapes.ShapeClients;

namespace EasyIm.IntegrationTests.Scenarios;

/// <summary>FRIEND_INVITE and FRIEND_AGREE over the long connections, online and offline.</summary>
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
}

[Collection(StandaloneCollection.Name)]
public sealed class StandaloneFriendEventScenarios(StandaloneShape shape) : FriendEventScenarios(shape);

[Collection(DistributedCollection.Name)]
public sealed class DistributedFriendEventScenarios(DistributedShape shape) : FriendEventScenarios(shape);

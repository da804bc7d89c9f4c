using EasyIm.Client;
using EasyIm.Contracts.Wire;
using EasyIm.IntegrationTests.Shapes;
using static EasyIm.IntegrationTests.Shapes.ShapeClients;

namespace EasyIm.IntegrationTests.Faults;

/// <summary>
/// Friends' events are committed in their recipient's update stream with the change (issue 14): a push that
/// dies with its gateway is not a lost event. Gateway 2 holds the recipient's connection, is frozen while the
/// changes are made (their pushes go to it and are never written), then killed; the recipient reconnects to
/// gateway 1 and asks for what follows the last position it saw.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class LostEventPushTests : FaultTestClass
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [SkippableFact]
    public async Task Group_and_friend_events_pushed_to_a_gateway_that_died_reach_their_user_on_sync_from_another_gateway_in_order()
    {
        Skip.If(Infrastructure is null, Missing);
        Cluster = await ProcessCluster.StartAsync(Infrastructure!, gateways: 2, messaging: 1);
        var (g1, g2) = (Cluster.Gateways[0], Cluster.Gateways[1]);
        var a = await Cluster.NewUserAsync();
        var b = await Cluster.NewUserAsync();
        string? groupId;
        await using (var first = await ConnectAsync(g2, b))
        {
            await Cluster.MakeFriendsAsync(a, b);
            var invite = await first.WaitForAsync(m => Frames.IsEvent(m, "FRIEND_INVITE"), Wait);
            Assert.Equal(1, Data(invite).GetProperty("position").GetInt64());
            await Cluster.WaitForWarmPresenceAsync();

            // Gateway 2 stops reading and writing: what is pushed to it from now on never reaches b.
            await g2.PauseAsync();
            var group = await Cluster.PostAsync(0, "/api/group/create", new { name = "after the fault", member_ids = new[] { Id(b.Id) } }, a);
            Assert.Equal(200, group.Status);
            groupId = group.Data.GetProperty("id").GetString();
            var removed = await Cluster.PostAsync(0, "/api/user/friend/remove", new { friend_id = Id(b.Id) }, a);
            Assert.Equal(200, removed.Status);
            await g2.KillAsync();
        }

        await using var again = await ConnectAsync(g1, b);
        await again.SendAsync(Frames.Event("SYNC", new Dictionary<string, object?> { ["updates_after"] = 1 }));
        var seen = new List<(string Key, long Position)>();
        string? joined = null;
        while (true)
        {
            var frame = await again.WaitForAsync(m => Frames.IsEvent(m, "GROUP_JOIN") || Frames.IsEvent(m, "FRIEND_REMOVE") || Frames.IsEvent(m, "SYNC"), Wait);
            if (Frames.IsEvent(frame, "SYNC"))
            {
                if (seen.Count >= 2)
                    break;
                continue;
            }
            seen.Add((Data(frame).GetProperty("key").GetString()!, Data(frame).GetProperty("position").GetInt64()));
            if (Frames.IsEvent(frame, "GROUP_JOIN"))
                joined = Data(frame).GetProperty("group_id").GetString();
        }

        Assert.Equal([("GROUP_JOIN", 2L), ("FRIEND_REMOVE", 3L)], seen);
        Assert.Equal(groupId, joined);
    }

    private static async Task<EasyImClient> ConnectAsync(ClusterNode gateway, TestUser user)
    {
        var client = await EasyImClient.ConnectAsync("127.0.0.1", gateway.SocketPort!.Value, ClientTransport.TcpJson);
        await client.HandshakeAsync(user.Id, user.AccessToken);
        await client.WaitForAsync(m => Frames.IsEvent(m, "SYNC"), Wait);
        return client;
    }
}

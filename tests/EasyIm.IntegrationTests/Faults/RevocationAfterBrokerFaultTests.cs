using System.Diagnostics;
using EasyIm.Client;
using EasyIm.Contracts.Wire;
using EasyIm.IntegrationTests.Shapes;
using static EasyIm.IntegrationTests.Shapes.ShapeClients;

namespace EasyIm.IntegrationTests.Faults;

/// <summary>
/// A logout reaches the gateways as an event on each gateway's temporary queue; a gateway away from the broker
/// has no queue, and would keep the user's socket open. Here a gateway loses the broker (the fault RabbitMQ node
/// restarts) and is kept from reconnecting (frozen) while the user logs out through the other gateway: once it
/// is back on the bus, it asks auth which of its sockets' sessions were revoked and closes that one, 401.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class RevocationAfterBrokerFaultTests : FaultTestClass
{
    private static readonly TimeSpan BackWithin = TimeSpan.FromSeconds(90);

    private static async Task<EasyImClient> ConnectAsync(ClusterNode gateway, TestUser user)
    {
        var client = await EasyImClient.ConnectAsync("127.0.0.1", gateway.SocketPort!.Value, ClientTransport.TcpJson);
        await client.HandshakeAsync(user.Id, user.AccessToken);
        await client.WaitForAsync(m => Frames.IsEvent(m, "SYNC"), Wait);
        return client;
    }

    [SkippableFact]
    public async Task A_logout_while_a_gateway_is_away_from_the_broker_closes_the_users_socket_on_it_once_it_is_back()
    {
        Skip.If(Infrastructure is null, Missing);
        Cluster = await ProcessCluster.StartAsync(Infrastructure!, gateways: 2, messaging: 1);
        var (away, other) = (Cluster.Gateways[0], Cluster.Gateways[1]);
        var leaving = await Cluster.NewUserAsync();
        var staying = await Cluster.NewUserAsync();
        await using var leavingSocket = await ConnectAsync(away, leaving);
        await using var stayingSocket = await ConnectAsync(away, staying);

        // The gateway loses the broker and stays away: frozen, it cannot reconnect while the user logs out.
        await away.PauseAsync();
        try
        {
            await Cluster.Infrastructure.RunControlAsync("restart-rabbitmq");
            await LogOutAsync(other, leaving);
            // The revocation was published while the gateway had no queue to receive it.
            Assert.Null(await Cluster.QueueAsync($"gateway-{away.GatewayId}"));
            Assert.False(leavingSocket.IsClosed);
        }
        finally
        {
            await away.ResumeAsync();
        }

        var notify = await leavingSocket.WaitForAsync(m => Frames.IsNotify(m), BackWithin);

        Assert.Equal(401, Frames.NotifyCode(notify));
        await leavingSocket.Closed.WaitAsync(Wait);
        await away.Process!.WaitForOutputAsync("checked its connections' sessions after a broker fault: 1 closed", Wait);
        // The other user's socket on that gateway is served as before.
        await stayingSocket.SendAsync(Frames.Heartbeat(staying.Id));
        await stayingSocket.WaitForAsync(m => Frames.IsEvent(m, Frames.KeepAlive), Wait);
        Assert.False(stayingSocket.IsClosed);
    }

    /// <summary>Logs the user out through <paramref name="gateway"/>'s API, once auth and that gateway are back on the broker.</summary>
    private async Task LogOutAsync(ClusterNode gateway, TestUser user)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            ApiReply? reply = null;
            try
            {
                reply = await Cluster!.PostAsync(Cluster.Gateways.IndexOf(gateway), "/api/user/logout", new { }, user);
                // 401: an earlier try went through but its answer was lost (the token worked before it).
                if (reply.Status is 200 or 401)
                    return;
            }
            catch (HttpRequestException)
            {
                // The gateway is still reconnecting to the broker.
            }
            Assert.True(deadline.Elapsed < BackWithin, $"the logout did not go through within {BackWithin.TotalSeconds} s: {reply?.Status} {reply?.Msg}\n{Cluster!.Logs()}");
            await Task.Delay(500);
        }
    }
}

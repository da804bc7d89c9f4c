using EasyIm.Client;
using EasyIm.Contracts.Wire;
using EasyIm.IntegrationTests.Shapes;
using static EasyIm.IntegrationTests.Shapes.ShapeClients;

namespace EasyIm.IntegrationTests.Scenarios;

/// <summary>
/// Two gateways on one broker, as scaled behind a load balancer: users connected to different
/// gateways chat, and a logout reaches the gateway that holds the connection.
/// </summary>
[Collection(DistributedCollection.Name)]
public sealed class ScaledGatewayScenarios(DistributedShape shape)
{
    private async Task<EasyImClient> ConnectSecondAsync(TestUser user, ClientTransport transport)
    {
        var client = await EasyImClient.ConnectAsync("127.0.0.1", shape.SecondGatewayPort, transport,
            new EasyImClientOptions { KeepAliveEvery = TimeSpan.FromSeconds(2) });
        await client.HandshakeAsync(user.Id, user.AccessToken);
        return client;
    }

    [SkippableFact]
    public async Task Users_on_different_gateways_chat_and_each_device_gets_every_message_in_order()
    {
        shape.RequireAvailable();
        var a = await shape.NewUserAsync();
        var b = await shape.NewUserAsync();
        await shape.MakeFriendsAsync(a, b);
        await using var onFirst = await shape.ConnectAsync(a, ClientTransport.TcpProtobuf);
        await using var onSecond = await ConnectSecondAsync(b, ClientTransport.WebSocketJson);
        await using var bOnFirst = await shape.ConnectAsync(b, ClientTransport.TcpJson);

        for (var i = 0; i < 20; i++)
            await onFirst.SendAsync(Frames.Chat(b.Id, $"across {i}", $"x-{i}"));
        await onFirst.AckAsync("x-19");
        await onSecond.SendAsync(Frames.Chat(a.Id, "back", "y-1"));
        var back = await onFirst.WaitForAsync(m => IsChat(m, "y-1"), Wait);

        foreach (var device in new[] { onSecond, bOnFirst })
        {
            var got = await device.ReceiveDistinctAsync(m => IsChat(m) && m.FromUserId == Id(a.Id), 20);
            Assert.Equal(Enumerable.Range(0, 20).Select(i => $"across {i}"), got.Select(m => m.Content));
        }
        Assert.Equal("back", back.Content);
    }

    [SkippableFact]
    public async Task A_logout_closes_the_users_connections_on_every_gateway()
    {
        shape.RequireAvailable();
        var user = await shape.NewUserAsync();
        await using var first = await shape.ConnectAsync(user);
        await using var second = await ConnectSecondAsync(user, ClientTransport.TcpProtobuf);

        var logout = await shape.PostAsync("/api/user/logout", new { access_token = user.AccessToken });

        Assert.Equal(200, logout.Status);
        await first.Closed.WaitAsync(Wait);
        await second.Closed.WaitAsync(Wait);
    }
}

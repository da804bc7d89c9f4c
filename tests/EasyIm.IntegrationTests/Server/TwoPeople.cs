using EasyIm.Client;
using EasyIm.Contracts.Wire;

namespace EasyIm.IntegrationTests.Server;

/// <summary>The smallest proof that a server process works end to end: two new users befriend over its API and one message crosses its socket.</summary>
public static class TwoPeople
{
    public static async Task ChatAsync(int apiPort, int socketPort, string text)
    {
        using var api = EasyImApi.Connect("127.0.0.1", apiPort);
        using var other = EasyImApi.Connect("127.0.0.1", apiPort);
        var a = await api.RegisterAsync("u" + Guid.NewGuid().ToString("N")[..12], "pass-word-1");
        var b = await other.RegisterAsync("u" + Guid.NewGuid().ToString("N")[..12], "pass-word-1");
        await other.AcceptFriendAsync(await api.AddFriendAsync(b.UserId));
        await using var onA = await EasyImClient.ConnectAsync("127.0.0.1", socketPort, ClientTransport.TcpJson);
        await using var onB = await EasyImClient.ConnectAsync("127.0.0.1", socketPort, ClientTransport.WebSocketJson);
        await onA.HandshakeAsync(a.UserId, a.AccessToken);
        await onB.HandshakeAsync(b.UserId, b.AccessToken);
        var id = "two-" + Guid.NewGuid().ToString("N")[..8];
        await onA.SendAsync(Frames.Chat(b.UserId, text, id));
        var received = await onB.WaitForAsync(m => m.ClientMsgId == id && m.MsgType == Msg.Types.MsgType.Text, TimeSpan.FromSeconds(20));
        Assert.Equal(text, received.Content);
    }
}

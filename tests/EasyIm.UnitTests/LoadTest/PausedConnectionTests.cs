using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using EasyIm.Client;
using EasyIm.LoadTest.Wire;

namespace EasyIm.UnitTests.LoadTest;

/// <summary>A load connection that stops reading (the slow reader) and reads again, over a real loopback socket.</summary>
public sealed class PausedConnectionTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private sealed class Recorder : IFrameHandler
    {
        public Channel<int> Codes { get; } = Channel.CreateUnbounded<int>();

        public void OnFrame(LoadConnection connection, ref Incoming frame) =>
            Codes.Writer.TryWrite(ServerEvent.Read(frame.Content).Code);
    }

    private static byte[] Notify(int code) => Encoding.UTF8.GetBytes($"{{\"msg_type\":5,\"content\":\"{{\\\"code\\\":{code}}}\"}}\n");

    [Fact]
    public async Task A_paused_connection_reads_what_came_meanwhile_once_resumed()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var recorder = new Recorder();
        var connection = await LoadConnection.OpenAsync((IPEndPoint)listener.LocalEndpoint, ClientTransport.TcpJson, recorder,
            CancellationToken.None, receiveBufferBytes: 4096);
        using var server = await listener.AcceptSocketAsync().WaitAsync(Timeout);

        await server.SendAsync(Notify(1));
        Assert.Equal(1, await recorder.Codes.Reader.ReadAsync().AsTask().WaitAsync(Timeout));
        connection.PauseReceiving();
        await server.SendAsync(Notify(2));
        await server.SendAsync(Notify(3));
        connection.ResumeReceiving();

        Assert.Equal(2, await recorder.Codes.Reader.ReadAsync().AsTask().WaitAsync(Timeout));
        Assert.Equal(3, await recorder.Codes.Reader.ReadAsync().AsTask().WaitAsync(Timeout));
        await connection.CloseAsync(TimeSpan.FromSeconds(1)).WaitAsync(Timeout);
    }

    [Fact]
    public async Task A_paused_connection_can_be_closed()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var recorder = new Recorder();
        var connection = await LoadConnection.OpenAsync((IPEndPoint)listener.LocalEndpoint, ClientTransport.TcpJson, recorder,
            CancellationToken.None);
        using var server = await listener.AcceptSocketAsync().WaitAsync(Timeout);
        await server.SendAsync(Notify(1));
        Assert.Equal(1, await recorder.Codes.Reader.ReadAsync().AsTask().WaitAsync(Timeout));
        connection.PauseReceiving();
        // The read under way takes this one; the loop then waits at the pause.
        await server.SendAsync(Notify(2));
        Assert.Equal(2, await recorder.Codes.Reader.ReadAsync().AsTask().WaitAsync(Timeout));

        await connection.CloseAsync(TimeSpan.FromMilliseconds(100)).WaitAsync(Timeout);

        Assert.True(connection.IsClosed);
        Assert.True(connection.ClosedByClient);
    }
}

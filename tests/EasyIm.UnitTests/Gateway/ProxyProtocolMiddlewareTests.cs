using System.IO.Pipelines;
using System.Net;
using System.Text;
using EasyIm.Gateway;
using EasyIm.Gateway.Proxies;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;

namespace EasyIm.UnitTests.Gateway;

public class ProxyProtocolMiddlewareTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private static readonly IPEndPoint Proxy = new(IPAddress.Parse("10.0.0.9"), 40000);

    private sealed class Transport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }

    private sealed class Lifetime : IHostApplicationLifetime
    {
        public CancellationToken ApplicationStarted => CancellationToken.None;
        public CancellationToken ApplicationStopping => CancellationToken.None;
        public CancellationToken ApplicationStopped => CancellationToken.None;
        public void StopApplication() { }
    }

    private sealed record Run(Task Done, DefaultConnectionContext Context, TaskCompletionSource<(EndPoint? Remote, string FirstBytes)> Next);

    /// <summary>A connection from <paramref name="peer"/> that sends <paramref name="bytes"/>; the next middleware records the address and what it reads.</summary>
    private static async Task<Run> ConnectAsync(IPEndPoint peer, string bytes, string trusted = "10.0.0.9")
    {
        var fromClient = new Pipe();
        var context = new DefaultConnectionContext("c1", new Transport(fromClient.Reader, new Pipe().Writer), new Transport(new Pipe().Reader, fromClient.Writer))
        {
            RemoteEndPoint = peer,
        };
        var middleware = new ProxyProtocolMiddleware(TrustedProxies.Parse(trusted), new GatewayOptions { HandshakeTimeout = 1 },
            new Lifetime(), NullLogger<ProxyProtocolMiddleware>.Instance);
        var next = new TaskCompletionSource<(EndPoint?, string)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await fromClient.Writer.WriteAsync(Encoding.ASCII.GetBytes(bytes));
        var done = middleware.OnConnectionAsync(context, async c =>
        {
            var read = await c.Transport.Input.ReadAsync();
            next.SetResult((c.RemoteEndPoint, Encoding.ASCII.GetString(read.Buffer)));
            c.Transport.Input.AdvanceTo(read.Buffer.End);
        });
        return new Run(done, context, next);
    }

    [Fact]
    public async Task A_trusted_proxys_header_becomes_the_remote_address_and_the_bytes_after_it_reach_the_next_reader()
    {
        var run = await ConnectAsync(Proxy, "PROXY TCP4 203.0.113.7 10.0.0.2 51234 8889\r\nGET / HTTP/1.1\r\n");

        var (remote, first) = await run.Next.Task.WaitAsync(Wait);
        await run.Done.WaitAsync(Wait);

        Assert.Equal(new IPEndPoint(IPAddress.Parse("203.0.113.7"), 51234), remote);
        Assert.Equal("GET / HTTP/1.1\r\n", first);
    }

    [Fact]
    public async Task A_header_from_a_peer_that_is_not_a_trusted_proxy_is_not_honoured()
    {
        var client = new IPEndPoint(IPAddress.Parse("198.51.100.4"), 5555);
        var run = await ConnectAsync(client, "PROXY TCP4 203.0.113.7 10.0.0.2 51234 8889\r\n");

        var (remote, first) = await run.Next.Task.WaitAsync(Wait);

        Assert.Equal(client, remote);
        Assert.StartsWith("PROXY TCP4", first);
    }

    [Fact]
    public async Task With_no_trusted_proxies_every_connection_passes_untouched()
    {
        var run = await ConnectAsync(Proxy, "PROXY TCP4 203.0.113.7 10.0.0.2 51234 8889\r\n", trusted: "");

        var (remote, first) = await run.Next.Task.WaitAsync(Wait);

        Assert.Equal(Proxy, remote);
        Assert.StartsWith("PROXY", first);
    }

    [Theory]
    [InlineData("GET / HTTP/1.1\r\nHost: x\r\n\r\n")]
    [InlineData("PROXY TCP4 999.0.0.1 10.0.0.2 1 2\r\n")]
    public async Task A_trusted_proxys_connection_without_a_valid_header_is_closed_before_anything_reads_it(string bytes)
    {
        var run = await ConnectAsync(Proxy, bytes);

        await run.Done.WaitAsync(Wait);

        Assert.False(run.Next.Task.IsCompleted);
        await WaitForAsync(run.Context.ConnectionClosed);
    }

    [Fact]
    public async Task A_trusted_proxy_that_sends_nothing_is_closed_after_the_handshake_timeout()
    {
        var run = await ConnectAsync(Proxy, "PROXY TCP4 203.0.113.7");

        await run.Done.WaitAsync(Wait);

        Assert.False(run.Next.Task.IsCompleted);
        await WaitForAsync(run.Context.ConnectionClosed);
    }

    private static Task WaitForAsync(CancellationToken token)
    {
        var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        token.Register(() => closed.TrySetResult());
        return closed.Task.WaitAsync(Wait);
    }
}

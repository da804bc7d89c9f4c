using System.IO.Pipelines;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Proxies;

/// <summary>
/// Kestrel connection middleware on both gateway ports: a connection from a trusted proxy
/// (<c>Gateway:TrustedProxies</c>) must begin with a PROXY protocol header (v1 or v2), which becomes the
/// connection's remote address, so the HTTP pipeline, the throttles and the logs see the client, not the
/// proxy. A trusted proxy's connection without a valid header within the handshake timeout is closed.
/// Any other peer is passed on untouched: a PROXY header from it is not read, so it is just bytes the
/// protocol sniffer or the HTTP parser refuses.
/// </summary>
public sealed class ProxyProtocolMiddleware(
    TrustedProxies trusted,
    GatewayOptions options,
    IHostApplicationLifetime lifetime,
    ILogger<ProxyProtocolMiddleware> logger)
{
    public async Task OnConnectionAsync(ConnectionContext context, ConnectionDelegate next)
    {
        if (trusted.IsEmpty || !trusted.Contains((context.RemoteEndPoint as IPEndPoint)?.Address))
        {
            await next(context);
            return;
        }
        var proxy = context.RemoteEndPoint;
        var (header, error) = await ReadHeaderAsync(context.Transport.Input, context.ConnectionClosed);
        if (header is not { } found)
        {
            logger.LogWarning("Connection {ConnectionId} from trusted proxy {Proxy} refused: {Reason}", context.ConnectionId, proxy, error);
            context.Abort(new ConnectionAbortedException(error));
            return;
        }
        // Kestrel gives each request the connection's remote address as it is when HTTP starts: after this.
        if (found.Source is { } client)
            context.RemoteEndPoint = new IPEndPoint(TrustedProxies.Normalize(client.Address), client.Port);
        logger.LogDebug("Connection {ConnectionId} from proxy {Proxy} is client {Remote} (PROXY v{Version})",
            context.ConnectionId, proxy, context.RemoteEndPoint, found.Version);
        await next(context);
    }

    /// <summary>Reads and consumes the header; leaves every byte after it for the next reader.</summary>
    private async Task<(ProxyHeader? Header, string Error)> ReadHeaderAsync(PipeReader input, CancellationToken closed)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(closed, lifetime.ApplicationStopping);
        timeout.CancelAfter(options.HandshakeTimeoutSpan);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(timeout.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ConnectionResetException or IOException)
            {
                return (null, $"no PROXY protocol header within {options.HandshakeTimeout} s");
            }
            var buffer = result.Buffer;
            switch (ProxyProtocol.TryParse(ref buffer, out var header, out var error))
            {
                case ProxyHeaderStatus.Done:
                    input.AdvanceTo(buffer.Start);
                    return (header, "");
                case ProxyHeaderStatus.Invalid:
                    input.AdvanceTo(result.Buffer.Start);
                    return (null, error ?? "invalid PROXY protocol header");
            }
            if (result.IsCompleted || result.IsCanceled)
            {
                input.AdvanceTo(result.Buffer.End);
                return (null, "the connection ended inside its PROXY protocol header");
            }
            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }
}

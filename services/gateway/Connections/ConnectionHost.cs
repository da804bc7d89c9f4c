using EasyIm.Gateway.Wire;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Connections;

/// <summary>
/// Where long connections come in: the long-connection port's connection middleware (which tells
/// raw TCP from HTTP by the first bytes) and WebSocket upgrades on any path of either port. Runs
/// each connection from its first byte to its close, logging both ends.
/// </summary>
public sealed class ConnectionHost(
    GatewayOptions options,
    GatewayIdentity gateway,
    ConnectionRegistry registry,
    FrameHandler handler,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<ConnectionHost> logger)
{
    /// <summary>One registration for every connection: a stopping server closes each with NOTIFY 503.</summary>
    private readonly CancellationTokenRegistration _onStopping = lifetime.ApplicationStopping.Register(() =>
    {
        foreach (var connection in registry.Open)
            connection.Close(503, ShuttingDown);
    });

    private const string ShuttingDown = "the server is shutting down; reconnect";

    /// <summary>Kestrel connection middleware for the long-connection port.</summary>
    public async Task OnConnectionAsync(ConnectionContext context, ConnectionDelegate next)
    {
        var started = time.GetTimestamp();
        var kind = await SniffAsync(context);
        switch (kind)
        {
            case SniffResult.Http:
                await next(context);
                return;
            case SniffResult.Json or SniffResult.Protobuf:
                var format = kind == SniffResult.Json ? WireFormat.Json : WireFormat.Protobuf;
                var connection = new TcpConnection(context, format, gateway.ConnectionId(context.ConnectionId), options, logger, time);
                await RunAsync(connection, context.RemoteEndPoint?.ToString(), options.HandshakeTimeoutSpan - time.GetElapsedTime(started));
                return;
            default:
                logger.LogDebug("Connection {ConnectionId} from {Remote} sent nothing recognisable within the handshake timeout; closed",
                    context.ConnectionId, context.RemoteEndPoint);
                return;
        }
    }

    /// <summary>Reads until the first bytes tell the protocol, consuming nothing: HTTP then sees the request from its start.</summary>
    private async Task<SniffResult> SniffAsync(ConnectionContext context)
    {
        var input = context.Transport.Input;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.ConnectionClosed, lifetime.ApplicationStopping);
        timeout.CancelAfter(options.HandshakeTimeoutSpan);
        while (true)
        {
            System.IO.Pipelines.ReadResult result;
            try
            {
                result = await input.ReadAsync(timeout.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ConnectionResetException or IOException)
            {
                return SniffResult.NeedMore;
            }
            var kind = ProtocolSniffer.Sniff(result.Buffer);
            if (kind != SniffResult.NeedMore)
            {
                input.AdvanceTo(result.Buffer.Start);
                return kind;
            }
            if (result.IsCompleted || result.IsCanceled)
            {
                input.AdvanceTo(result.Buffer.End);
                return SniffResult.NeedMore;
            }
            // Nothing consumed, everything seen: the next read waits for more bytes.
            input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
        }
    }

    /// <summary>HTTP middleware: a WebSocket upgrade on any path becomes a long connection.</summary>
    public async Task OnRequestAsync(HttpContext context, RequestDelegate next)
    {
        if (!context.WebSockets.IsWebSocketRequest)
        {
            await next(context);
            return;
        }
        var started = time.GetTimestamp();
        using var socket = await context.WebSockets.AcceptWebSocketAsync();
        var connection = new WebSocketConnection(socket, gateway.ConnectionId(context.Connection.Id), options, logger, time);
        await RunAsync(connection, context.Connection.RemoteIpAddress + ":" + context.Connection.RemotePort,
            options.HandshakeTimeoutSpan - time.GetElapsedTime(started));
    }

    private async Task RunAsync(LongConnection connection, string? remote, TimeSpan handshakeLeft)
    {
        registry.Opened(connection);
        // Opened after the stopping callback went through the open connections: closed here instead.
        if (lifetime.ApplicationStopping.IsCancellationRequested)
            connection.Close(503, ShuttingDown);
        logger.LogInformation("Connection {ConnectionId} opened from {Remote} ({Transport}, {Format})",
            connection.Id, remote, connection.Transport, connection.Format);
        try
        {
            await connection.RunAsync(handler, handshakeLeft);
        }
        finally
        {
            await handler.ClosedAsync(connection);
            logger.LogInformation("Connection {ConnectionId} of user {UserId} closed: {Reason}",
                connection.Id, connection.UserId, connection.CloseReason);
        }
    }
}

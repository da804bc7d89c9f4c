using System.Buffers;
using System.Net.WebSockets;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Wire;
using WireFormat = EasyIm.Gateway.Wire.WireFormat;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Connections;

/// <summary>
/// A WebSocket long connection: a text message is one JSON <c>Msg</c>, a binary message one protobuf
/// <c>Msg</c>. The client is answered in the format of its first message.
/// </summary>
public sealed class WebSocketConnection(WebSocket socket, string id, GatewayOptions options, ILogger logger, TimeProvider? time = null)
    : LongConnection(id, "websocket", options, logger, time)
{
    private bool _formatKnown;

    /// <summary>A message is read into a buffer of this size first, doubled up to the frame limit as it grows.</summary>
    private const int FirstBufferBytes = 4 * 1024;

    /// <summary>Bytes of receive buffer this connection holds now: none while it waits for a message.</summary>
    internal int ReceiveBufferBytes { get; private set; }

    protected override async Task ReadLoopAsync(FrameHandler handler)
    {
        while (true)
        {
            // Wait for the next message with no buffer at all (the managed WebSocket passes a
            // zero-byte read down to Kestrel, which holds none either): an idle connection costs
            // no receive memory. The buffer is rented once the message is there, and returned after.
            var received = await socket.ReceiveAsync(Memory<byte>.Empty, CancellationToken.None).ConfigureAwait(false);
            if (received.MessageType == WebSocketMessageType.Close)
                return;
            if (!await ReadMessageAsync(handler, received).ConfigureAwait(false))
                return;
        }
    }

    /// <summary>Reads the rest of a message whose start has arrived and handles it; false when the client closed meanwhile.</summary>
    private async ValueTask<bool> ReadMessageAsync(FrameHandler handler, ValueWebSocketReceiveResult received)
    {
        var max = Options.MaxFrameBytes;
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(max, FirstBufferBytes));
        ReceiveBufferBytes = buffer.Length;
        try
        {
            var count = 0;
            var tooLarge = false;
            while (!received.EndOfMessage)
            {
                if (count == buffer.Length && !tooLarge)
                {
                    if (buffer.Length >= max)
                    {
                        // Over the limit: stop keeping it, read the rest of the message away.
                        tooLarge = true;
                    }
                    else
                    {
                        var larger = ArrayPool<byte>.Shared.Rent(Math.Min(max, buffer.Length * 2));
                        buffer.AsSpan(0, count).CopyTo(larger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = larger;
                        ReceiveBufferBytes = buffer.Length;
                    }
                }
                var into = tooLarge ? buffer.AsMemory() : buffer.AsMemory(count, Math.Min(buffer.Length, max) - count);
                received = await socket.ReceiveAsync(into, CancellationToken.None).ConfigureAwait(false);
                if (received.MessageType == WebSocketMessageType.Close)
                    return false;
                if (!tooLarge)
                    count += received.Count;
                if (!tooLarge && count == max && !received.EndOfMessage)
                    tooLarge = true;
            }

            if (IsClosing)
                return KeepDiscarding(count);
            if (tooLarge)
            {
                OnBrokenFraming(new FrameException($"a WebSocket message longer than {max} bytes"));
                return true;
            }

            var format = received.MessageType == WebSocketMessageType.Text ? WireFormat.Json : WireFormat.Protobuf;
            if (!_formatKnown)
            {
                Format = format;
                _formatKnown = true;
            }
            var frame = new ReadOnlySequence<byte>(buffer, 0, count);
            await OnFrameAsync(handler, () => MsgCodec.Decode(frame, format)).ConfigureAwait(false);
            return true;
        }
        finally
        {
            ReceiveBufferBytes = 0;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    protected override async ValueTask<bool> WriteAsync(IReadOnlyList<OutboundFrame> frames)
    {
        // One message a frame, from the frame's shared bytes: nothing is encoded or copied per connection here.
        var format = Format;
        var type = format == WireFormat.Json ? WebSocketMessageType.Text : WebSocketMessageType.Binary;
        for (var i = 0; i < frames.Count; i++)
            await socket.SendAsync(frames[i].MessageBytes(format), type, true, CancellationToken.None).ConfigureAwait(false);
        return true;
    }

    protected override async ValueTask FinishWritingAsync()
    {
        if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
        {
            var (status, text) = CloseCode switch
            {
                0 => (WebSocketCloseStatus.NormalClosure, "closed"),
                503 => (WebSocketCloseStatus.EndpointUnavailable, "server shutting down"),
                400 => (WebSocketCloseStatus.PolicyViolation, "bad frame"),
                _ => (WebSocketCloseStatus.PolicyViolation, "closed with code " + CloseCode),
            };
            await socket.CloseOutputAsync(status, text, CancellationToken.None).ConfigureAwait(false);
        }
    }

    // A pending WebSocket receive cannot be given up without aborting; the close frame sent above
    // normally brings the client's, which ends the read loop.
    protected override void StopReading() => socket.Abort();

    protected override void AbortTransport() => socket.Abort();
}

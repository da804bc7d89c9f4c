using System.IO.Pipelines;
using System.Threading.Channels;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Wire;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace EasyIm.Gateway.Connections;

/// <summary>A raw TCP long connection: newline-delimited JSON or varint-delimited protobuf, read with System.IO.Pipelines.</summary>
public sealed class TcpConnection : LongConnection
{
    /// <summary>Flush at least this often during a long burst, so it does not pile up in memory before the socket.</summary>
    private const int FlushEveryBytes = 32 * 1024;

    private readonly ConnectionContext _context;
    private readonly PipeReader _input;
    private readonly PipeWriter _output;
    private readonly IFrameReader _frames;

    public TcpConnection(ConnectionContext context, WireFormat format, string id, GatewayOptions options, ILogger logger)
        : base(id, "tcp", options, logger)
    {
        _context = context;
        _input = context.Transport.Input;
        _output = context.Transport.Output;
        Format = format;
        _frames = format == WireFormat.Json
            ? new JsonLineFrameReader(options.MaxFrameBytes)
            : new VarintFrameReader(options.MaxFrameBytes);
    }

    protected override async Task ReadLoopAsync(FrameHandler handler)
    {
        while (true)
        {
            var result = await _input.ReadAsync().ConfigureAwait(false);
            var buffer = result.Buffer;
            if (result.IsCanceled)
                return;
            if (IsClosing)
            {
                _input.AdvanceTo(buffer.End);
            }
            else
            {
                try
                {
                    while (!IsClosing && _frames.TryParseFrame(ref buffer, out var frame))
                        await OnFrameAsync(handler, () => MsgCodec.Decode(frame, Format)).ConfigureAwait(false);
                }
                catch (FrameException ex)
                {
                    OnBrokenFraming(ex);
                }
                // Consumed up to the last whole frame; the partial one stays for the next read.
                _input.AdvanceTo(buffer.Start, buffer.End);
            }
            if (result.IsCompleted)
                return;
        }
    }

    protected override async Task WriteLoopAsync(ChannelReader<Msg> queue)
    {
        while (await queue.WaitToReadAsync().ConfigureAwait(false))
        {
            while (queue.TryRead(out var msg))
            {
                if (Format == WireFormat.Json)
                    MsgCodec.WriteJsonLine(msg, _output);
                else
                    MsgCodec.WriteDelimited(msg, _output);
                if (_output.CanGetUnflushedBytes && _output.UnflushedBytes >= FlushEveryBytes && !await FlushAsync())
                    return;
            }
            if (!await FlushAsync())
                return;
        }
    }

    private async ValueTask<bool> FlushAsync()
    {
        var flushed = await _output.FlushAsync().ConfigureAwait(false);
        return !flushed.IsCompleted && !flushed.IsCanceled;
    }

    protected override void StopReading() => _input.CancelPendingRead();

    protected override void AbortTransport()
    {
        _output.CancelPendingFlush();
        _context.Abort(new ConnectionAbortedException(CloseReason ?? "closed by the server"));
    }
}

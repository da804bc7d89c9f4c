using System.Buffers;
using System.IO.Pipelines;
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

    public TcpConnection(ConnectionContext context, WireFormat format, string id, GatewayOptions options, ILogger logger, TimeProvider? time = null)
        : base(id, "tcp", options, logger, time)
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
                if (!KeepDiscarding(buffer.Length))
                    return;
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

    /// <summary>A frame larger than this is written on its own rather than copied into the current buffer.</summary>
    private const int CopyUpToBytes = 4 * 1024;

    protected override async ValueTask<bool> WriteAsync(IReadOnlyList<OutboundFrame> frames)
    {
        // The batch goes into the pipe with one Advance per buffer (not per frame) and one flush,
        // more only when a long burst passes FlushEveryBytes.
        for (var next = 0; next < frames.Count;)
        {
            next = Copy(frames, next);
            if (!await FlushAsync())
                return false;
        }
        return true;
    }

    /// <summary>Copies frames from <paramref name="from"/> on into the output, up to about <see cref="FlushEveryBytes"/>; returns where it stopped.</summary>
    private int Copy(IReadOnlyList<OutboundFrame> frames, int from)
    {
        var format = Format;
        var span = _output.GetSpan();
        var used = 0;
        var copied = 0;
        var i = from;
        for (; i < frames.Count && copied < FlushEveryBytes; i++)
        {
            var bytes = frames[i].StreamBytes(format).Span;
            copied += bytes.Length;
            if (bytes.Length <= span.Length - used)
            {
                bytes.CopyTo(span[used..]);
                used += bytes.Length;
                continue;
            }
            _output.Advance(used);
            used = 0;
            if (bytes.Length > CopyUpToBytes)
            {
                _output.Write(bytes);
                span = _output.GetSpan();
            }
            else
            {
                span = _output.GetSpan(bytes.Length);
                bytes.CopyTo(span);
                used = bytes.Length;
            }
        }
        _output.Advance(used);
        return i;
    }

    // Raw TCP has no closing frame: the transport closes when the connection's run ends.
    protected override ValueTask FinishWritingAsync() => ValueTask.CompletedTask;

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

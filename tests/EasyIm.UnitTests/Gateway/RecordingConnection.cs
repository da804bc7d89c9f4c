using System.Threading.Channels;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway;
using EasyIm.Gateway.Connections;
using EasyIm.Gateway.Wire;
using Microsoft.Extensions.Logging.Abstractions;

namespace EasyIm.UnitTests.Gateway;

/// <summary>A connection without a socket: the test feeds its frames and reads the frames it writes, as they were queued.</summary>
internal sealed class RecordingConnection(GatewayOptions options, TimeProvider? time = null, WireFormat format = WireFormat.Json)
    : LongConnection("unit:" + Guid.NewGuid().ToString("N")[..8], "memory", options, NullLogger.Instance, time)
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);
    private readonly CancellationTokenSource _stop = new();

    public Channel<Msg> Incoming { get; } = Channel.CreateUnbounded<Msg>();

    public Channel<OutboundFrame> Written { get; } = Channel.CreateUnbounded<OutboundFrame>();

    /// <summary>While set and not completed, the client reads nothing: writes wait for it.</summary>
    public TaskCompletionSource? Reads { get; set; }

    /// <summary>Runs the connection; the frames written are also encoded in its format, as a transport would.</summary>
    public Task RunAsync(FrameHandler handler)
    {
        Format = format;
        return RunAsync(handler, Options.HandshakeTimeoutSpan);
    }

    protected override async Task ReadLoopAsync(FrameHandler handler)
    {
        try
        {
            await foreach (var msg in Incoming.Reader.ReadAllAsync(_stop.Token))
                await OnFrameAsync(handler, () => msg);
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    protected override async ValueTask<bool> WriteAsync(IReadOnlyList<OutboundFrame> frames)
    {
        if (Reads is { } reads)
            await reads.Task;
        foreach (var frame in frames)
        {
            _ = frame.StreamBytes(Format);
            await Written.Writer.WriteAsync(frame);
        }
        return true;
    }

    protected override ValueTask FinishWritingAsync()
    {
        Written.Writer.TryComplete();
        return ValueTask.CompletedTask;
    }

    protected override void StopReading() => _stop.Cancel();

    protected override void AbortTransport() => _stop.Cancel();

    public async Task<OutboundFrame> NextWrittenAsync() => await Written.Reader.ReadAsync().AsTask().WaitAsync(Wait);
}

using System.Buffers;
using System.IO.Pipelines;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway;
using EasyIm.Gateway.Connections;
using EasyIm.Gateway.Wire;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging.Abstractions;

namespace EasyIm.UnitTests.Gateway;

public sealed class TcpConnectionTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    /// <summary>The transport's output: a real pipe, with its Advance and flush calls counted and its flushes held by the test.</summary>
    private sealed class CountingPipeWriter(PipeWriter inner) : PipeWriter
    {
        private readonly SemaphoreSlim _flushAllowed = new(0);
        public int Advances;
        public int Flushes;
        public readonly SemaphoreSlim Flushing = new(0);

        public void AllowFlush() => _flushAllowed.Release();

        public override void Advance(int bytes)
        {
            Advances++;
            inner.Advance(bytes);
        }

        public override async ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default)
        {
            Flushes++;
            Flushing.Release();
            await _flushAllowed.WaitAsync(cancellationToken);
            return await inner.FlushAsync(cancellationToken);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);
        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);
        public override void CancelPendingFlush() => inner.CancelPendingFlush();
        public override void Complete(Exception? exception = null) => inner.Complete(exception);
    }

    private sealed class Transport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;
        public PipeWriter Output { get; } = output;
    }

    [Theory]
    [InlineData(WireFormat.Json)]
    [InlineData(WireFormat.Protobuf)]
    public async Task Frames_queued_while_a_write_is_under_way_leave_in_order_in_one_batch_with_one_flush(WireFormat format)
    {
        var toClient = new Pipe();
        var output = new CountingPipeWriter(toClient.Writer);
        var context = new DefaultConnectionContext("c1", new Transport(new Pipe().Reader, output), new Transport(toClient.Reader, new Pipe().Writer));
        var connection = new TcpConnection(context, format, "unit:c1", new GatewayOptions(), NullLogger.Instance);
        static Msg Numbered(int i) => new() { MsgType = Msg.Types.MsgType.Text, Content = $"message {i}", ConversationId = "g_1", ConversationSeq = (ulong)i };

        // The first frame's write is held at its flush; a hundred more queue up behind it.
        Assert.True(connection.Send(Numbered(0)));
        Assert.True(await output.Flushing.WaitAsync(Wait));
        var advancesForOne = output.Advances;
        for (var i = 1; i <= 100; i++)
            Assert.True(connection.Send(Numbered(i)));
        output.AllowFlush();
        Assert.True(await output.Flushing.WaitAsync(Wait));
        output.AllowFlush();

        var reader = format == WireFormat.Json ? (IFrameReader)new JsonLineFrameReader(65536) : new VarintFrameReader(65536);
        var received = new List<string>();
        while (received.Count < 101)
        {
            var read = await toClient.Reader.ReadAsync().AsTask().WaitAsync(Wait);
            var buffer = read.Buffer;
            while (reader.TryParseFrame(ref buffer, out var frame))
                received.Add(MsgCodec.Decode(frame, format).Content);
            toClient.Reader.AdvanceTo(buffer.Start, buffer.End);
        }

        Assert.Equal(Enumerable.Range(0, 101).Select(i => $"message {i}"), received);
        Assert.Equal(2, output.Flushes);
        // The hundred frames (up to 9 KiB) go into the pipe with an Advance per 4 KiB buffer, not per frame.
        Assert.InRange(output.Advances - advancesForOne, 1, 4);
    }
}

using System.Buffers;
using BenchmarkDotNet.Attributes;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Wire;

namespace EasyIm.Benchmarks;

/// <summary>
/// One push to 1,000 connections, half of them JSON and half protobuf, as a group message reaches
/// its members: each connection encoding the message itself (what the gateway did) against one
/// <see cref="OutboundFrame"/> encoded once per format and copied by every connection. Each
/// connection writes into its own buffer, as into its socket's pipe.
/// </summary>
[MemoryDiagnoser]
public class FanOutBenchmarks
{
    private const int Connections = 1000;

    private static readonly Msg Chat = new()
    {
        Id = "384514773351399424",
        FromUserId = "384514773351399400",
        ToUserId = "384514773351399425",
        ChatType = Msg.Types.ChatType.Group,
        MsgType = Msg.Types.MsgType.Text,
        Status = Msg.Types.MsgStatus.Sent,
        Content = "你好，世界 👋 — a chat message of ordinary length, some sixty characters",
        Seq = 42,
        ClientMsgId = "c-7f3a9b2e",
        ConversationId = "g_384514773351399425",
        ConversationSeq = 1234,
        SentAt = 1795740836000,
    };

    private readonly ArrayBufferWriter<byte>[] _outputs = [.. Enumerable.Range(0, Connections).Select(_ => new ArrayBufferWriter<byte>(1024))];

    private static WireFormat FormatOf(int connection) => connection % 2 == 0 ? WireFormat.Json : WireFormat.Protobuf;

    [Benchmark(Baseline = true)]
    public long EncodedPerConnection()
    {
        long written = 0;
        for (var i = 0; i < Connections; i++)
        {
            var output = _outputs[i];
            output.ResetWrittenCount();
            if (FormatOf(i) == WireFormat.Json)
                MsgCodec.WriteJsonLine(Chat, output);
            else
                MsgCodec.WriteDelimited(Chat, output);
            written += output.WrittenCount;
        }
        return written;
    }

    [Benchmark]
    public long EncodedOncePerFormat()
    {
        var frame = new OutboundFrame(Chat);
        long written = 0;
        for (var i = 0; i < Connections; i++)
        {
            var output = _outputs[i];
            output.ResetWrittenCount();
            output.Write(frame.StreamBytes(FormatOf(i)).Span);
            written += output.WrittenCount;
        }
        return written;
    }
}

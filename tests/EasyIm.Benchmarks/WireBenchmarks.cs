using System.Buffers;
using System.Text;
using BenchmarkDotNet.Attributes;
using EasyIm.Contracts.Wire;
using EasyIm.Gateway.Wire;
using Google.Protobuf;

namespace EasyIm.Benchmarks;

/// <summary>
/// What the gateway does for every chat frame, per wire format, with protobuf as the baseline:
/// decode an incoming frame, encode an outgoing one, and cut 1,000 frames out of a stream that
/// arrived in 4 KiB segments.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkDotNet.Configs.BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class WireBenchmarks
{
    private static readonly Msg Chat = new()
    {
        Id = "384514773351399424",
        FromUserId = "384514773351399400",
        ToUserId = "384514773351399425",
        MsgType = Msg.Types.MsgType.Text,
        Status = Msg.Types.MsgStatus.Sent,
        Content = "你好，世界 👋 — a chat message of ordinary length, some sixty characters",
        Seq = 42,
        ClientMsgId = "c-7f3a9b2e",
        ConversationId = "s_384514773351399400_384514773351399425",
        ConversationSeq = 1234,
        SentAt = 1795740836000,
    };

    private ReadOnlySequence<byte> _jsonFrame;
    private ReadOnlySequence<byte> _protobufFrame;
    private ReadOnlySequence<byte> _jsonStream;
    private ReadOnlySequence<byte> _protobufStream;
    private readonly ArrayBufferWriter<byte> _output = new(4096);

    [GlobalSetup]
    public void Setup()
    {
        _jsonFrame = new ReadOnlySequence<byte>(MsgCodec.ToJsonBytes(Chat));
        _protobufFrame = new ReadOnlySequence<byte>(Chat.ToByteArray());
        var json = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat(MsgCodec.ToJson(Chat) + "\n", 1000)));
        using var delimited = new MemoryStream();
        for (var i = 0; i < 1000; i++)
            Chat.WriteDelimitedTo(delimited);
        _jsonStream = Segmented(json, 4096);
        _protobufStream = Segmented(delimited.ToArray(), 4096);
    }

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("decode")]
    public Msg DecodeProtobuf() => MsgCodec.DecodeProtobuf(_protobufFrame);

    [Benchmark]
    [BenchmarkCategory("decode")]
    public Msg DecodeJson() => MsgCodec.DecodeJson(_jsonFrame);

    /// <summary>The JSON codec the gateway used before its own: Google.Protobuf's parser, through a string.</summary>
    [Benchmark]
    [BenchmarkCategory("decode")]
    public Msg DecodeJsonWithGoogleProtobuf() => GoogleParser.Parse<Msg>(Encoding.UTF8.GetString(_jsonFrame.FirstSpan));

    [Benchmark(Baseline = true)]
    [BenchmarkCategory("encode")]
    public int EncodeProtobuf()
    {
        _output.ResetWrittenCount();
        MsgCodec.WriteDelimited(Chat, _output);
        return _output.WrittenCount;
    }

    [Benchmark]
    [BenchmarkCategory("encode")]
    public int EncodeJson()
    {
        _output.ResetWrittenCount();
        MsgCodec.WriteJsonLine(Chat, _output);
        return _output.WrittenCount;
    }

    /// <summary>The JSON codec the gateway used before its own: Google.Protobuf's formatter, through a string.</summary>
    [Benchmark]
    [BenchmarkCategory("encode")]
    public int EncodeJsonWithGoogleProtobuf()
    {
        _output.ResetWrittenCount();
        var json = GoogleFormatter.Format(Chat);
        var span = _output.GetSpan(Encoding.UTF8.GetMaxByteCount(json.Length) + 1);
        var written = Encoding.UTF8.GetBytes(json, span);
        span[written] = (byte)'\n';
        _output.Advance(written + 1);
        return _output.WrittenCount;
    }

    private static readonly JsonFormatter GoogleFormatter = new(JsonFormatter.Settings.Default
        .WithFormatDefaultValues(false).WithFormatEnumsAsIntegers(true).WithPreserveProtoFieldNames(true));

    private static readonly JsonParser GoogleParser = new(JsonParser.Settings.Default.WithIgnoreUnknownFields(true));

    [Benchmark(Baseline = true, OperationsPerInvoke = 1000)]
    [BenchmarkCategory("framing")]
    public int FrameProtobufStream() => Count(new VarintFrameReader(65536), _protobufStream);

    [Benchmark(OperationsPerInvoke = 1000)]
    [BenchmarkCategory("framing")]
    public int FrameJsonStream() => Count(new JsonLineFrameReader(65536), _jsonStream);

    private static int Count(IFrameReader reader, ReadOnlySequence<byte> stream)
    {
        var frames = 0;
        while (reader.TryParseFrame(ref stream, out _))
            frames++;
        return frames;
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    private static ReadOnlySequence<byte> Segmented(byte[] bytes, int size)
    {
        var first = new Segment(bytes.AsMemory(0, Math.Min(size, bytes.Length)), 0);
        var last = first;
        for (var at = size; at < bytes.Length; at += size)
            last = last.Append(bytes.AsMemory(at, Math.Min(size, bytes.Length - at)));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}

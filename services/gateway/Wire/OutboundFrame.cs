using System.Buffers;
using EasyIm.Contracts.Wire;
using Google.Protobuf;

namespace EasyIm.Gateway.Wire;

/// <summary>
/// A frame on its way to one or many connections: the <see cref="Msg"/> (never changed once here),
/// and its bytes in each wire format, encoded the first time a connection of that format writes it
/// and then shared by every other. A push to a thousand connections is encoded at most twice.
/// </summary>
public sealed class OutboundFrame(Msg msg)
{
    private byte[]? _json;
    private byte[]? _protobuf;
    private int _protobufPrefix;
    private Lock? _encoding;
    private int _encodings;

    /// <summary>Where this thread encodes JSON before the bytes are copied out at their exact size.</summary>
    [ThreadStatic]
    private static ArrayBufferWriter<byte>? t_scratch;

    public Msg Msg { get; } = msg;

    /// <summary>How many times the frame was encoded: at most once per wire format.</summary>
    internal int Encodings => Volatile.Read(ref _encodings);

    /// <summary>What a raw TCP connection writes: one JSON line, or a protobuf message after its varint length.</summary>
    public ReadOnlyMemory<byte> StreamBytes(WireFormat format) => format == WireFormat.Json ? Json() : Protobuf();

    /// <summary>What one WebSocket message carries: the JSON text, or the protobuf message, unframed.</summary>
    public ReadOnlyMemory<byte> MessageBytes(WireFormat format)
    {
        if (format == WireFormat.Json)
        {
            var json = Json();
            return json.AsMemory(0, json.Length - 1);
        }
        var protobuf = Protobuf();
        return protobuf.AsMemory(Volatile.Read(ref _protobufPrefix));
    }

    private byte[] Json() => Volatile.Read(ref _json) ?? Encode(WireFormat.Json);

    private byte[] Protobuf() => Volatile.Read(ref _protobuf) ?? Encode(WireFormat.Protobuf);

    /// <summary>Encodes under a lock, so that connections of one format writing at once still encode it once.</summary>
    private byte[] Encode(WireFormat format)
    {
        lock (LazyInitializer.EnsureInitialized(ref _encoding))
        {
            if (format == WireFormat.Json)
            {
                if (_json is null)
                {
                    Interlocked.Increment(ref _encodings);
                    // The writer never writes a raw newline (strings escape theirs), so the line ends where the JSON does.
                    var line = t_scratch ??= new ArrayBufferWriter<byte>(1024);
                    line.ResetWrittenCount();
                    MsgCodec.WriteJsonLine(Msg, line);
                    Volatile.Write(ref _json, line.WrittenSpan.ToArray());
                }
                return _json;
            }
            if (_protobuf is null)
            {
                Interlocked.Increment(ref _encodings);
                var size = Msg.CalculateSize();
                var prefix = CodedOutputStream.ComputeLengthSize(size);
                var bytes = new byte[prefix + size];
                MsgCodec.WriteVarint(bytes, (uint)size);
                Msg.WriteTo(bytes.AsSpan(prefix));
                _protobufPrefix = prefix;
                Volatile.Write(ref _protobuf, bytes);
            }
            return _protobuf;
        }
    }
}

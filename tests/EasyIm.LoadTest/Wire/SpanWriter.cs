using System.Globalization;
using System.Text;

namespace EasyIm.LoadTest.Wire;

/// <summary>Appends bytes, ASCII numbers and protobuf pieces to a span the caller made large enough.</summary>
public ref struct SpanWriter(Span<byte> buffer)
{
    private readonly Span<byte> _buffer = buffer;

    public int Length { get; private set; }

    public readonly ReadOnlySpan<byte> Written => _buffer[..Length];

    public void Byte(byte b) => _buffer[Length++] = b;

    public void Bytes(scoped ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(_buffer[Length..]);
        Length += bytes.Length;
    }

    public void Utf8(string text) => Length += Encoding.UTF8.GetBytes(text, _buffer[Length..]);

    public void Number(long value)
    {
        value.TryFormat(_buffer[Length..], out var written, default, CultureInfo.InvariantCulture);
        Length += written;
    }

    public void Number(ulong value)
    {
        value.TryFormat(_buffer[Length..], out var written, default, CultureInfo.InvariantCulture);
        Length += written;
    }

    public void Varint(ulong value)
    {
        while (value >= 0x80)
        {
            Byte((byte)(value | 0x80));
            value >>= 7;
        }
        Byte((byte)value);
    }

    /// <summary>A protobuf varint field; zero is left out, as protobuf does.</summary>
    public void VarintField(int field, ulong value)
    {
        if (value == 0)
            return;
        Varint((ulong)(field << 3));
        Varint(value);
    }

    /// <summary>A protobuf string (length-delimited) field; empty is left out.</summary>
    public void StringField(int field, scoped ReadOnlySpan<byte> utf8)
    {
        if (utf8.IsEmpty)
            return;
        Varint((ulong)((field << 3) | 2));
        Varint((ulong)utf8.Length);
        Bytes(utf8);
    }

    /// <summary>A protobuf string field holding a decimal number (ids travel as strings).</summary>
    public void NumberStringField(int field, long value)
    {
        Span<byte> digits = stackalloc byte[20];
        value.TryFormat(digits, out var written, default, CultureInfo.InvariantCulture);
        StringField(field, digits[..written]);
    }
}

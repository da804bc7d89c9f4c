using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EasyIm.Gateway.Proxies;

public enum ProxyHeaderStatus
{
    /// <summary>Not enough bytes yet to tell.</summary>
    NeedMore,
    /// <summary>A whole header was read; the buffer now starts after it.</summary>
    Done,
    /// <summary>Not a PROXY protocol header, a malformed one, or one longer than allowed.</summary>
    Invalid,
}

/// <summary>
/// What a proxy's PROXY protocol header said: the client's address (<see cref="Source"/>), or null when the
/// proxy speaks for itself (v1 <c>UNKNOWN</c>, v2 <c>LOCAL</c>, e.g. its own health check) or the address is
/// not an IP one; then the connection keeps the proxy's own address.
/// </summary>
public readonly record struct ProxyHeader(IPEndPoint? Source, IPEndPoint? Destination, int Version);

/// <summary>
/// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) a TCP proxy such as nginx
/// (<c>proxy_protocol on;</c>) sends before the client's first byte. Framing only: whom to believe is the
/// caller's concern. Every length is checked before anything is buffered: a v1 line is at most
/// <see cref="MaxV1Bytes"/> bytes, a v2 header at most <see cref="MaxV2Bytes"/> (its address block and
/// TLVs; the format allows 64 KB, which no proxy needs).
/// </summary>
public static class ProxyProtocol
{
    /// <summary>"PROXY UNKNOWN ffff:...:ffff ffff:...:ffff 65535 65535\r\n", the longest line the spec allows.</summary>
    public const int MaxV1Bytes = 107;
    public const int MaxV2Bytes = 16 + 1024;

    private static readonly byte[] V1Signature = "PROXY "u8.ToArray();
    private static readonly byte[] V2Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>
    /// Reads a header from the start of <paramref name="buffer"/>. On <see cref="ProxyHeaderStatus.Done"/>
    /// the buffer is sliced past the header; otherwise it is left as it was. <paramref name="error"/> says
    /// what was wrong, for the log, when the result is <see cref="ProxyHeaderStatus.Invalid"/>.
    /// </summary>
    public static ProxyHeaderStatus TryParse(ref ReadOnlySequence<byte> buffer, out ProxyHeader header, out string? error)
    {
        header = default;
        error = null;
        if (buffer.IsEmpty)
            return ProxyHeaderStatus.NeedMore;

        Span<byte> head = stackalloc byte[V2Signature.Length];
        var seen = (int)Math.Min(buffer.Length, head.Length);
        buffer.Slice(0, seen).CopyTo(head);
        head = head[..seen];
        if (StartsLike(head, V2Signature))
            return seen < V2Signature.Length ? ProxyHeaderStatus.NeedMore : ParseV2(ref buffer, out header, out error);
        if (StartsLike(head, V1Signature))
            return seen < V1Signature.Length ? ProxyHeaderStatus.NeedMore : ParseV1(ref buffer, out header, out error);
        error = "the connection does not start with a PROXY protocol header";
        return ProxyHeaderStatus.Invalid;
    }

    /// <summary>Whether what has arrived so far agrees with <paramref name="signature"/>, as far as it goes.</summary>
    private static bool StartsLike(ReadOnlySpan<byte> head, ReadOnlySpan<byte> signature) =>
        head.Length >= signature.Length ? head.StartsWith(signature) : signature.StartsWith(head);

    private static ProxyHeaderStatus ParseV1(ref ReadOnlySequence<byte> buffer, out ProxyHeader header, out string? error)
    {
        header = default;
        error = null;
        Span<byte> bytes = stackalloc byte[MaxV1Bytes];
        var available = (int)Math.Min(buffer.Length, MaxV1Bytes);
        buffer.Slice(0, available).CopyTo(bytes);
        bytes = bytes[..available];

        // The line is printable ASCII up to its CRLF: anything else is refused as soon as it arrives.
        var end = -1;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == (byte)'\r' && (i + 1 == bytes.Length || bytes[i + 1] == (byte)'\n'))
            {
                // A CR last of all: its LF has yet to come.
                end = i + 1 < bytes.Length ? i : -1;
                break;
            }
            if (bytes[i] is < 0x20 or > 0x7E)
            {
                error = "the PROXY v1 line holds a byte that is not printable ASCII before its CRLF";
                return ProxyHeaderStatus.Invalid;
            }
        }
        if (end < 0)
        {
            if (available == MaxV1Bytes)
            {
                error = $"the PROXY v1 line has no CRLF within {MaxV1Bytes} bytes";
                return ProxyHeaderStatus.Invalid;
            }
            return ProxyHeaderStatus.NeedMore;
        }

        var parts = Encoding.ASCII.GetString(bytes[..end]).Split(' ');
        var consumed = end + 2;
        // parts[0] is "PROXY", checked by the signature.
        if (parts.Length >= 2 && parts[1] == "UNKNOWN")
        {
            header = new ProxyHeader(null, null, 1);
            buffer = buffer.Slice(consumed);
            return ProxyHeaderStatus.Done;
        }
        if (parts.Length != 6 || parts[1] is not ("TCP4" or "TCP6"))
        {
            error = "the PROXY v1 line is not 'PROXY TCP4|TCP6 <source> <destination> <source port> <destination port>'";
            return ProxyHeaderStatus.Invalid;
        }
        var family = parts[1] == "TCP4" ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        if (!TryAddress(parts[2], family, out var source) || !TryAddress(parts[3], family, out var destination)
            || !TryPort(parts[4], out var sourcePort) || !TryPort(parts[5], out var destinationPort))
        {
            error = $"the PROXY v1 line's addresses or ports are not valid {parts[1]} ones";
            return ProxyHeaderStatus.Invalid;
        }
        header = new ProxyHeader(new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort), 1);
        buffer = buffer.Slice(consumed);
        return ProxyHeaderStatus.Done;
    }

    private static bool TryAddress(string text, AddressFamily family, out IPAddress address)
    {
        address = IPAddress.None;
        if (!IPAddress.TryParse(text, out var parsed) || parsed.AddressFamily != family)
            return false;
        // IPAddress also reads "10.1" and "0x0a.1.2.3"; the spec's TCP4 address is four decimal parts.
        if (family == AddressFamily.InterNetwork && parsed.ToString() != text)
            return false;
        if (family == AddressFamily.InterNetworkV6 && (text.Contains('%') || text.Contains('.') && !parsed.IsIPv4MappedToIPv6))
            return false;
        address = parsed;
        return true;
    }

    private static bool TryPort(string text, out int port)
    {
        port = 0;
        return text.Length is > 0 and <= 5 && text.All(char.IsAsciiDigit) && (text.Length == 1 || text[0] != '0')
            && int.TryParse(text, out port) && port <= 65535;
    }

    private static ProxyHeaderStatus ParseV2(ref ReadOnlySequence<byte> buffer, out ProxyHeader header, out string? error)
    {
        header = default;
        error = null;
        if (buffer.Length < 16)
            return ProxyHeaderStatus.NeedMore;
        Span<byte> fixedPart = stackalloc byte[16];
        buffer.Slice(0, 16).CopyTo(fixedPart);
        var versionCommand = fixedPart[12];
        var familyProtocol = fixedPart[13];
        var length = BinaryPrimitives.ReadUInt16BigEndian(fixedPart[14..]);
        if (versionCommand >> 4 != 2)
        {
            error = $"the PROXY v2 header says version {versionCommand >> 4}";
            return ProxyHeaderStatus.Invalid;
        }
        var command = versionCommand & 0x0F;
        if (command > 1)
        {
            error = $"the PROXY v2 header has an unknown command {command}";
            return ProxyHeaderStatus.Invalid;
        }
        if (16 + length > MaxV2Bytes)
        {
            error = $"the PROXY v2 header is {16 + length} bytes, more than {MaxV2Bytes}";
            return ProxyHeaderStatus.Invalid;
        }
        if (buffer.Length < 16 + length)
            return ProxyHeaderStatus.NeedMore;

        Span<byte> block = stackalloc byte[length];
        buffer.Slice(16, length).CopyTo(block);
        var family = familyProtocol >> 4;
        var transport = familyProtocol & 0x0F;
        if (family > 3 || transport > 2)
        {
            error = $"the PROXY v2 header has an unknown address family or protocol (0x{familyProtocol:x2})";
            return ProxyHeaderStatus.Invalid;
        }
        // LOCAL: the proxy's own connection (a health check); an unspecified, UNIX or datagram address: nothing to take.
        if (command == 0 || family is 0 or 3 || transport != 1)
        {
            header = new ProxyHeader(null, null, 2);
        }
        else
        {
            var addressBytes = family == 1 ? 4 : 16;
            if (length < 2 * addressBytes + 4)
            {
                error = $"the PROXY v2 header's address block is {length} bytes, too short for its family";
                return ProxyHeaderStatus.Invalid;
            }
            var source = new IPAddress(block[..addressBytes]);
            var destination = new IPAddress(block.Slice(addressBytes, addressBytes));
            var sourcePort = BinaryPrimitives.ReadUInt16BigEndian(block[(2 * addressBytes)..]);
            var destinationPort = BinaryPrimitives.ReadUInt16BigEndian(block[(2 * addressBytes + 2)..]);
            header = new ProxyHeader(new IPEndPoint(source, sourcePort), new IPEndPoint(destination, destinationPort), 2);
        }
        buffer = buffer.Slice(16 + length);
        return ProxyHeaderStatus.Done;
    }
}

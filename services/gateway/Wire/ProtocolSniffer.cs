using System.Buffers;
using System.Text;

namespace EasyIm.Gateway.Wire;

public enum SniffResult
{
    /// <summary>Not enough bytes yet to tell.</summary>
    NeedMore,
    Http,
    Json,
    Protobuf,
}

/// <summary>
/// Tells what a client on the long-connection port speaks from its first bytes: an HTTP request
/// line (served by the HTTP pipeline: the API and WebSocket upgrades), <c>{</c> then <c>"</c>,
/// <c>}</c> or whitespace (newline-delimited JSON), else varint-delimited protobuf. A protobuf
/// frame's second byte is a field tag, never one of those, so a length of 123 (<c>{</c>) is safe.
/// </summary>
public static class ProtocolSniffer
{
    private static readonly byte[][] HttpMethods =
        [.. new[] { "GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS ", "PATCH " }.Select(Encoding.ASCII.GetBytes)];

    private const int Longest = 8;

    public static SniffResult Sniff(ReadOnlySequence<byte> buffer)
    {
        if (buffer.IsEmpty)
            return SniffResult.NeedMore;
        Span<byte> head = stackalloc byte[Longest];
        var length = (int)Math.Min(buffer.Length, Longest);
        buffer.Slice(0, length).CopyTo(head);
        head = head[..length];

        if (head[0] == (byte)'{')
        {
            if (head.Length < 2)
                return SniffResult.NeedMore;
            return head[1] is (byte)'"' or (byte)'}' or (byte)' ' or (byte)'\t' or (byte)'\r' or (byte)'\n'
                ? SniffResult.Json
                : SniffResult.Protobuf;
        }

        var couldBeHttp = false;
        foreach (var method in HttpMethods)
        {
            if (head.Length >= method.Length)
            {
                if (head.StartsWith(method))
                    return SniffResult.Http;
            }
            else if (method.AsSpan().StartsWith(head))
            {
                couldBeHttp = true;
            }
        }
        return couldBeHttp ? SniffResult.NeedMore : SniffResult.Protobuf;
    }
}

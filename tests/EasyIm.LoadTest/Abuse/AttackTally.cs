using System.Collections.Concurrent;
using System.Net;
using System.Text.RegularExpressions;
using static EasyIm.LoadTest.Reporting.Figures;

namespace EasyIm.LoadTest.Abuse;

/// <summary>
/// What one attacker sent and what the server answered it, counted by kind (NOTIFY 429, FAIL with its
/// reason, HTTP 401, closed by the server, ...), the first text of each kind kept as an example.
/// Thread-safe: an attacker's connections and requests count into it at once.
/// </summary>
public sealed partial class AttackTally
{
    public const string SentAck = "SENT ack";
    public const string Received = "message received";
    public const string ClosedByServer = "closed by the server";
    public const string HandshakeAccepted = "handshake accepted";
    public const string HandshakeTimedOut = "handshake timed out";
    public const string ConnectFailed = "connection failed";
    public const string NoHttpAnswer = "no HTTP answer";

    private const int ExampleLength = 120;

    private sealed class Outcome(string kind, string? example)
    {
        public long Count;
        public string Kind { get; } = kind;
        public string? Example { get; } = example;
    }

    private readonly ConcurrentDictionary<string, Outcome> _outcomes = new();
    private readonly ConcurrentQueue<string> _notes = new();
    private long _sent;
    private long _notSent;

    /// <summary>Frames, requests or sockets the attacker sent.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>Ones it meant to send and did not (no connection at the time, too many requests in flight).</summary>
    public long NotSent => Interlocked.Read(ref _notSent);

    public IReadOnlyList<string> Notes => [.. _notes];

    public void AddSent(long count = 1) => Interlocked.Add(ref _sent, count);

    public void AddNotSent(long count) => Interlocked.Add(ref _notSent, count);

    /// <summary>
    /// Counts one answer of <paramref name="kind"/>. With <paramref name="byDetail"/> each distinct
    /// <paramref name="detail"/> (numbers aside) is a kind of its own, as FAIL reasons are; otherwise the
    /// first detail is kept as the kind's example (a NOTIFY's text, which may hold a wait in seconds).
    /// </summary>
    public void Got(string kind, string? detail = null, bool byDetail = false)
    {
        var key = byDetail && detail is not null ? kind + "\n" + Digits().Replace(detail, "#") : kind;
        var outcome = _outcomes.GetOrAdd(key, static (_, state) => new Outcome(state.kind, Example(state.detail)), (kind, detail));
        Interlocked.Increment(ref outcome.Count);
    }

    public void Notify(int code, string? message) => Got($"NOTIFY {code}", message);

    public void Fail(string error) => Got("FAIL", error, byDetail: true);

    /// <summary>An HTTP answer (status 0: none came).</summary>
    public void Http(HttpStatusCode status, string? message) =>
        Got(status == 0 ? NoHttpAnswer : $"HTTP {(int)status}", message);

    /// <summary>How many answers of <paramref name="kind"/> (all details together).</summary>
    public long CountOf(string kind) => _outcomes.Values.Where(o => o.Kind == kind).Sum(o => Interlocked.Read(ref o.Count));

    /// <summary>A fact the counts cannot say (the right password's answer after the flood, sockets open at the end).</summary>
    public void Note(string text) => _notes.Enqueue(text);

    /// <summary>Every kind of answer, the most frequent first: <c>1,234 × FAIL "content must not..."</c>.</summary>
    public IReadOnlyList<string> Summary() =>
    [
        .. _outcomes.Values
            .Select(o => (o.Kind, o.Example, Count: Interlocked.Read(ref o.Count)))
            .OrderByDescending(o => o.Count).ThenBy(o => o.Kind, StringComparer.Ordinal).ThenBy(o => o.Example, StringComparer.Ordinal)
            .Select(o => $"{Count(o.Count)} × {o.Kind}" + (o.Example is null ? "" : $" \"{o.Example}\"")),
    ];

    private static string? Example(string? text)
    {
        if (text is null)
            return null;
        var flat = Whitespace().Replace(text, " ").Trim();
        return flat.Length <= ExampleLength ? flat : flat[..ExampleLength] + "...";
    }

    [GeneratedRegex("[0-9]+")]
    private static partial Regex Digits();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}

using EasyIm.Contracts.Messaging;

namespace EasyIm.Messaging.Sending;

/// <summary>
/// Keeps each connection's messages in its send order across lost batches. A partition's consumer
/// returns once a batch is queued, not stored, so a process that dies takes the batches it queued with
/// it while later batches of the same gateway are still on the bus, and a gateway that cannot send a
/// batch (the broker restarting) drops it and sends the next. Either way a later message of a
/// connection would be stored before its senders resend the lost one, out of order.
/// <para>
/// So each submission names the connection's previous one (<see cref="ChatSubmission.PreviousClientMsgId"/>),
/// and it is taken only when that one was handled before it: by this process (remembered per connection,
/// in queue order) or, for a connection this process has not seen (it just took the partition over), when
/// it is stored. The same look-up is made when this process remembers the connection with another last
/// message: it handled the connection before, and then the partition was consumed by another process (handed
/// over, or taken over while this one stood by), which stored the messages in between. Otherwise an earlier
/// message was lost: this one and every later one of the connection are refused, and the connection is closed with a FAIL, so its client reconnects and sends again, in order,
/// everything that got no SENT ack (its resends are deduped). In steady state this costs a dictionary
/// look-up per message; the database is asked only about connections new to this process, or whose
/// partition was consumed elsewhere since this process last saw them.
/// </para>
/// </summary>
public sealed class SubmissionChain
{
    /// <summary>Bound on the connections remembered; past it the memory is cleared and connections are checked in the database again.</summary>
    public const int MaxConnections = 1_000_000;

    private const string Broken = "\0broken";
    private readonly Lock _lock = new();
    private readonly Dictionary<string, string> _last = new(StringComparer.Ordinal);

    /// <summary>
    /// Splits <paramref name="submissions"/> (in queue order) into those to store and those to refuse.
    /// <paramref name="stored"/> answers which (sender, client_msg_id) pairs are stored; it is called at most
    /// once, for the first submission of each connection this process does not know, and when it fails those
    /// connections are refused (safe: their clients resend).
    /// </summary>
    public async Task<(List<ChatSubmission> Accepted, List<ChatSubmission> Refused)> CheckAsync(
        IReadOnlyList<ChatSubmission> submissions,
        Func<IReadOnlyCollection<(long SenderId, string ClientMsgId)>, Task<HashSet<(long, string)>>> stored)
    {
        var unknown = new Dictionary<string, (long, string)>(StringComparer.Ordinal);
        lock (_lock)
        {
            var first = new HashSet<string>(StringComparer.Ordinal);
            foreach (var s in submissions)
            {
                if (s.PreviousClientMsgId is not { } previous || !first.Add(s.ConnectionId))
                    continue;
                // Not seen, or seen with another last message: this process did not handle the connection's
                // latest messages (its partition was consumed elsewhere meanwhile), so ask what is stored.
                if (!_last.TryGetValue(s.ConnectionId, out var last) || (last != previous && last != Broken))
                    unknown.TryAdd(s.ConnectionId, (s.SenderId, previous));
            }
        }
        HashSet<(long, string)>? found = null;
        if (unknown.Count > 0)
        {
            try
            {
                found = await stored(unknown.Values.Distinct().ToList());
            }
            catch (Exception)
            {
                found = null;
            }
        }

        var accepted = new List<ChatSubmission>(submissions.Count);
        var refused = new List<ChatSubmission>();
        lock (_lock)
        {
            if (_last.Count > MaxConnections)
                _last.Clear();
            foreach (var s in submissions)
            {
                bool ok;
                if (s.PreviousClientMsgId is not { } previous)
                    ok = true; // its connection's first message (or one after a message without an id)
                else if (_last.TryGetValue(s.ConnectionId, out var last) && last == previous)
                    ok = true;
                else
                    ok = found is not null && unknown.TryGetValue(s.ConnectionId, out var key) && key == (s.SenderId, previous) && found.Contains(key);
                if (ok && (!_last.TryGetValue(s.ConnectionId, out var state) || state != Broken))
                {
                    if (s.Message.ClientMsgId is { } id)
                        _last[s.ConnectionId] = id;
                    accepted.Add(s);
                }
                else
                {
                    _last[s.ConnectionId] = Broken;
                    refused.Add(s);
                }
            }
        }
        return (accepted, refused);
    }

    /// <summary>
    /// A message of the connection was answered FAIL without being stored (the database kept failing): refuse the
    /// connection's later messages until it reconnects, as after a lost batch, so that its resend is not numbered
    /// after them.
    /// </summary>
    public void Break(string connectionId)
    {
        lock (_lock)
            _last[connectionId] = Broken;
    }

    /// <summary>The connection ended: nothing more comes from it.</summary>
    public void Forget(string connectionId)
    {
        lock (_lock)
            _last.Remove(connectionId);
    }

    /// <summary>
    /// A gateway died (its presence lease ended) without saying its connections ended: forgets them all
    /// (connection ids are <c>{gateway id}:{local id}</c>). Without this they stayed until the bound cleared
    /// everything. A late submission from one of them is checked in the database, as a new connection.
    /// </summary>
    public int ForgetGateway(string gatewayId)
    {
        var prefix = gatewayId + ":";
        lock (_lock)
            return _last.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToList().Count(_last.Remove);
    }
}

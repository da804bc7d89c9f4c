using System.Globalization;
using System.Text;
using EasyIm.LoadTest.Targets;

namespace EasyIm.LoadTest.Abuse;

/// <summary>
/// Chat the server must refuse, as fast as the shipped rate limit lets one connection send (100 a
/// second, so 90): in turn U+0000 in the content, empty content, content one character over the
/// shipped 16,384, a message to a stranger, and one to a group the attacker is not in. Each is a FAIL
/// for the sender alone; none may slow anyone else down.
/// </summary>
public sealed class BadContentAttack() : Attack(AttackKind.BadContent)
{
    public const double PerSecond = 90;
    private const int ShippedMaxContentLength = 16_384;
    private static readonly string OverLong = new('x', ShippedMaxContentLength + 1);

    private Account _attacker = null!;
    private Account _friend = null!;
    private Account _stranger = null!;

    public override string Description =>
        $"one connection, {PerSecond:F0} chat messages/s the server refuses, in turn: \"a\\u0000b\", empty, {OverLong.Length:N0} characters, " +
        "to a stranger, to a group it is not in; reconnects when closed";

    public override string Unit => "chat messages";

    public override async Task PrepareAsync(AttackContext context, CancellationToken cancellationToken)
    {
        _attacker = await context.RegisterAsync(context.AccountName("bad"), cancellationToken);
        _friend = await context.RegisterAsync(context.AccountName("bad_friend"), cancellationToken);
        _stranger = await context.RegisterAsync(context.AccountName("bad_stranger"), cancellationToken);
        await context.BefriendAsync(_attacker, _friend, cancellationToken);
    }

    public override Task RunAsync(AttackContext context, long until, CancellationToken cancellationToken) =>
        PacedAsync(new HostileSession(context, _attacker, Tally, MaxConnects), PerSecond, until, (connection, n) =>
        {
            var id = Encoding.ASCII.GetBytes("bad-" + n.ToString(CultureInfo.InvariantCulture));
            var seq = (uint)(n + 1);
            switch (n % 5)
            {
                case 0: connection.EnqueueChatText(_friend.Id, 0, "a\u0000b", id, seq); break;
                case 1: connection.EnqueueChatText(_friend.Id, 0, "", id, seq); break;
                case 2: connection.EnqueueChatText(_friend.Id, 0, OverLong, id, seq); break;
                case 3: connection.EnqueueChatText(_stranger.Id, 0, "hello, stranger", id, seq); break;
                // Group ids are snowflakes; 1 is no group of anyone's.
                default: connection.EnqueueChatText(1, 1, "hello, group", id, seq); break;
            }
        }, cancellationToken, chat: true);
}

/// <summary>Chat messages at ten times the shipped per-connection rate (100 a second), reconnecting whenever closed.</summary>
public sealed class ChatFloodAttack() : Attack(AttackKind.ChatFlood)
{
    public const double PerSecond = 1_000;

    private Account _attacker = null!;
    private Account _friend = null!;

    public override string Description =>
        $"one connection, {PerSecond:N0} chat messages/s to a friend (10× the shipped rate limit); reconnects when closed, {MaxConnects} connections at most";

    public override string Unit => "chat messages";

    public override async Task PrepareAsync(AttackContext context, CancellationToken cancellationToken)
    {
        _attacker = await context.RegisterAsync(context.AccountName("flood"), cancellationToken);
        _friend = await context.RegisterAsync(context.AccountName("flood_friend"), cancellationToken);
        await context.BefriendAsync(_attacker, _friend, cancellationToken);
    }

    public override Task RunAsync(AttackContext context, long until, CancellationToken cancellationToken) =>
        PacedAsync(new HostileSession(context, _attacker, Tally, MaxConnects), PerSecond, until, (connection, n) =>
        {
            var text = "flood-" + n.ToString(CultureInfo.InvariantCulture);
            var bytes = Encoding.ASCII.GetBytes(text);
            connection.EnqueueChat(_friend.Id, 0, bytes, bytes, (uint)(n + 1));
        }, cancellationToken, chat: true);
}

/// <summary>SYNC from 0 over the shared conversation's whole history, twenty times a second (the shipped budget is one every two seconds).</summary>
public sealed class SyncFloodAttack(SharedHistory history) : Attack(AttackKind.SyncFlood)
{
    public const double PerSecond = 20;

    public override string Description =>
        $"one connection, {PerSecond:F0} SYNCs/s, each from seq 0 of a conversation of {history.Count:N0} messages; reconnects when closed";

    public override string Unit => "SYNCs";

    public override Task PrepareAsync(AttackContext context, CancellationToken cancellationToken) => history.PrepareAsync(context, cancellationToken);

    public override Task RunAsync(AttackContext context, long until, CancellationToken cancellationToken) =>
        PacedAsync(new HostileSession(context, history.First, Tally, MaxConnects), PerSecond, until,
            (connection, _) => connection.EnqueueSync(history.ConversationId, 0), cancellationToken);
}

/// <summary>
/// ARRIVED and READ receipts in turn over the shared conversation, 2,000 a second (a real client sends a
/// few): the cursors climb to the end of the history, then the same receipts repeat.
/// </summary>
public sealed class ReceiptFloodAttack(SharedHistory history) : Attack(AttackKind.ReceiptFlood)
{
    public const double PerSecond = 2_000;

    public override string Description =>
        $"one connection, {PerSecond:N0} receipts/s, ARRIVED and READ in turn, seq climbing 1..{history.Count:N0} then again; reconnects when closed";

    public override string Unit => "receipts";

    public override Task PrepareAsync(AttackContext context, CancellationToken cancellationToken) => history.PrepareAsync(context, cancellationToken);

    public override Task RunAsync(AttackContext context, long until, CancellationToken cancellationToken) =>
        PacedAsync(new HostileSession(context, history.Second, Tally, MaxConnects), PerSecond, until,
            (connection, n) => connection.EnqueueReceipt(read: n % 2 == 1, history.ConversationId, (ulong)(1 + n / 2 % Math.Max(1, history.Count))),
            cancellationToken);
}

namespace EasyIm.LoadTest.Abuse;

/// <summary>The attack classes of issue 13 the abuse scenario runs, one hostile user (or a few) each.</summary>
public enum AttackKind
{
    /// <summary>Chat content with U+0000 and other messages the server refuses, as fast as the rate limit allows.</summary>
    BadContent,
    /// <summary>SYNC from 0 over a conversation with a few thousand messages, again and again.</summary>
    SyncFlood,
    /// <summary>ARRIVED and READ receipts far over any client's need.</summary>
    ReceiptFlood,
    /// <summary>Wrong passwords against one account and logins to random accounts, from one address.</summary>
    LoginFlood,
    /// <summary>New accounts from one address.</summary>
    RegistrationFlood,
    /// <summary>One user opening many sockets.</summary>
    SocketFlood,
    /// <summary>A user whose sockets stop reading while friends send it 15 KB messages.</summary>
    SlowReader,
    /// <summary>Chat messages far over the per-connection rate, reconnecting when closed.</summary>
    ChatFlood,
}

public static class AttackKinds
{
    public const string All = "all";

    /// <summary>The name on the command line and in the report.</summary>
    public static string Name(AttackKind kind) => kind switch
    {
        AttackKind.BadContent => "bad-content",
        AttackKind.SyncFlood => "sync-flood",
        AttackKind.ReceiptFlood => "receipt-flood",
        AttackKind.LoginFlood => "login-flood",
        AttackKind.RegistrationFlood => "registration-flood",
        AttackKind.SocketFlood => "socket-flood",
        AttackKind.SlowReader => "slow-reader",
        AttackKind.ChatFlood => "chat-flood",
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, null),
    };

    /// <summary>
    /// <c>all</c>, or names separated by commas (<c>sync-flood,login-flood</c>), in the enum's order
    /// whatever the order given, each once. An <see cref="ArgumentException"/> lists the names there are.
    /// </summary>
    public static IReadOnlyList<AttackKind> Parse(string text)
    {
        var names = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (names is [All])
            return Enum.GetValues<AttackKind>();
        var chosen = new HashSet<AttackKind>();
        foreach (var name in names)
        {
            var kind = Enum.GetValues<AttackKind>().Where(k => Name(k) == name).Select(k => (AttackKind?)k).FirstOrDefault();
            if (kind is null)
                throw new ArgumentException(
                    $"--attacks takes {All} or some of {string.Join(", ", Enum.GetValues<AttackKind>().Select(Name))} separated by commas, not '{name}'");
            chosen.Add(kind.Value);
        }
        if (chosen.Count == 0)
            throw new ArgumentException($"--attacks names no attack; {All} runs every one");
        return [.. Enum.GetValues<AttackKind>().Where(chosen.Contains)];
    }
}

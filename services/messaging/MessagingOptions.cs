using EasyIm.Hosting;
using Microsoft.Extensions.Configuration;

namespace EasyIm.Messaging;

/// <summary>The <c>Messaging</c> section of the configuration.</summary>
public sealed class MessagingOptions
{
    public const string Section = "Messaging";

    /// <summary>One-to-one messages only between friends (easyim's rule).</summary>
    public bool RequireFriendship { get; set; } = true;
    /// <summary>Longest accepted content, in characters.</summary>
    public int MaxContentLength { get; set; } = 16 * 1024;
    /// <summary>How long to wait for the friends service before refusing on a negative projection.</summary>
    public int RelationshipCheckTimeoutMs { get; set; } = 3000;
    /// <summary>
    /// How often one user's sends (or typing, or history reads) may make messaging ask the friends service
    /// about a relationship its projection does not hold; a burst of <see cref="RelationshipAskBurst"/> is
    /// allowed. The projection is applied before friends answers an accept or a join, so a miss is nearly
    /// always a stranger or a group the user is not in: past the budget the projection's "no" stands
    /// without asking, and one user sending to strangers cannot hold up everyone's send path with bus round trips.
    /// </summary>
    public double RelationshipAsksPerSecond { get; set; } = 2;
    public int RelationshipAskBurst { get; set; } = 5;
    /// <summary>Most messages in one page of a sync (one bus message).</summary>
    public int SyncPageSize { get; set; } = 500;
    /// <summary>
    /// About the most content bytes in one page of a sync (at least one message a page): with long messages
    /// a page of <see cref="SyncPageSize"/> would be megabytes on the bus and in the connection's send queue.
    /// </summary>
    public int SyncPageBytes { get; set; } = 512 * 1024;
    /// <summary>How often each messaging process publishes its own heartbeat (RabbitMQ only), for sharing out the chat partitions.</summary>
    public int InstanceHeartbeatSeconds { get; set; } = 5;
    /// <summary>Another messaging process silent for this many of its heartbeats is taken for dead (gateways: <c>Presence:MissedHeartbeats</c>).</summary>
    public int MissedHeartbeats { get; set; } = 3;
    /// <summary>
    /// How long this replica remembers where it routed each message, to replay it to a connection whose
    /// <c>UserConnected</c> it learns of late (see <see cref="Delivery.DeliveryRouter"/>). Must exceed the
    /// time presence events take to reach every replica.
    /// </summary>
    public int ReplayWindowSeconds { get; set; } = 15;
    /// <summary>
    /// Bound on the routes remembered for replay, whatever the traffic: one per recipient of each message
    /// (about 50 bytes each), so a 1,000-member group at 20 messages a second fills 300,000 in the window.
    /// </summary>
    public int MaxReplayEntries { get; set; } = 1_000_000;
    /// <summary>
    /// Where a push for one gateway is sent; <c>{0}</c> is the gateway id. EasyIm's gateways have temporary
    /// endpoints (their queues go with the process), addressed as <c>exchange:gateway-{0}?temporary=true</c>;
    /// <c>queue:gateway-{0}</c> fits a gateway with a durable endpoint. When this form does not reach a
    /// gateway the temporary form is tried (never the durable one, which would declare a queue for a gateway that died).
    /// </summary>
    public string GatewayAddress { get; set; } = "exchange:gateway-{0}?temporary=true";

    /// <summary>
    /// Pushes waiting for one gateway (each the part of a committed group, a sync page or a typing relay that goes
    /// there). Every gateway is sent to by its own queue, in parallel; a gateway whose queue is full (its sends are
    /// hanging, or it cannot keep up) has its further pushes published to every gateway until the queue drains.
    /// </summary>
    public int PushQueuePerGateway { get; set; } = 256;
    /// <summary>Most chat messages and receipts one transaction of the send path stores.</summary>
    public int MaxMessagesPerTransaction { get; set; } = 2048;
    /// <summary>How long the send path retries a group the database keeps failing before answering FAIL.</summary>
    public int StoreRetrySeconds { get; set; } = 30;
    /// <summary>How long messages are kept (<c>Messaging:Retention</c>); off by default.</summary>
    public RetentionOptions Retention { get; set; } = new();
    /// <summary>
    /// Groups with more members than this do not give their messages positions in the members' update streams (each
    /// would cost a stored row per member per message): like a Telegram channel, such a group is its own stream, its
    /// seqs, which a device tracks per conversation (docs/architecture.md, "Large groups").
    /// </summary>
    public int StreamMaxGroupMembers { get; set; } = 100;

    public static MessagingOptions Read(IConfiguration configuration)
    {
        var options = configuration.GetSection(Section).Get<MessagingOptions>() ?? new MessagingOptions();
        Positive(options.MaxContentLength, nameof(MaxContentLength));
        Positive(options.RelationshipCheckTimeoutMs, nameof(RelationshipCheckTimeoutMs));
        if (!(options.RelationshipAsksPerSecond > 0))
            throw new StartupException($"{Section}:{nameof(RelationshipAsksPerSecond)} must be a positive number, not {options.RelationshipAsksPerSecond}.");
        Positive(options.RelationshipAskBurst, nameof(RelationshipAskBurst));
        Positive(options.SyncPageSize, nameof(SyncPageSize));
        Positive(options.SyncPageBytes, nameof(SyncPageBytes));
        Positive(options.InstanceHeartbeatSeconds, nameof(InstanceHeartbeatSeconds));
        Positive(options.MissedHeartbeats, nameof(MissedHeartbeats));
        Positive(options.ReplayWindowSeconds, nameof(ReplayWindowSeconds));
        Positive(options.MaxReplayEntries, nameof(MaxReplayEntries));
        Positive(options.MaxMessagesPerTransaction, nameof(MaxMessagesPerTransaction));
        Positive(options.PushQueuePerGateway, nameof(PushQueuePerGateway));
        Positive(options.StoreRetrySeconds, nameof(StoreRetrySeconds));
        Positive(options.StreamMaxGroupMembers, nameof(StreamMaxGroupMembers));
        options.Retention.Validate($"{Section}:{nameof(Retention)}");
        if (!options.GatewayAddress.Contains("{0}", StringComparison.Ordinal)
            || !Uri.TryCreate(string.Format(options.GatewayAddress, "x"), UriKind.Absolute, out _))
            throw new StartupException($"{Section}:{nameof(GatewayAddress)} must be an endpoint address with {{0}} for the gateway id, such as queue:gateway-{{0}}, not '{options.GatewayAddress}'.");
        return options;
    }

    private static void Positive(int value, string name)
    {
        if (value <= 0)
            throw new StartupException($"{Section}:{name} must be a positive number, not {value}.");
    }
}

/// <summary>
/// <c>Messaging:Retention</c>: messages older than so many days are deleted, one-to-one and group
/// conversations separately (0 keeps them forever, the default), by <see cref="Retention.MessageRetention"/>
/// in batches small enough that the send path never waits long for the database's writer.
/// </summary>
public sealed class RetentionOptions
{
    /// <summary>A century: beyond it a cutoff is not a date any clock reaches.</summary>
    public const int MaxDays = 36_500;

    /// <summary>Days one-to-one messages are kept; 0 forever.</summary>
    public int DirectDays { get; set; }
    /// <summary>Days group messages are kept; 0 forever.</summary>
    public int GroupDays { get; set; }
    /// <summary>
    /// Most messages one delete transaction removes. SQLite has one writer: a batch holds it for a few
    /// milliseconds (about 10 ms for 500 on this machine), which a send waits for at most once.
    /// </summary>
    public int BatchSize { get; set; } = 500;
    /// <summary>Pause between batches, so the send path always gets the writer between two of them.</summary>
    public int PauseMs { get; set; } = 50;
    /// <summary>How often a sweep looks for messages that have come of age, once the last one found none.</summary>
    public int IntervalSeconds { get; set; } = 300;

    /// <summary>
    /// Days the update stream's entries are kept (30; 0 forever): a device whose position is older syncs by the user's
    /// ARRIVED cursors instead (its SYNC done says <c>position_expired</c>). Each stored message adds an entry per
    /// user of its conversation, so unlike messages the stream is pruned by default.
    /// </summary>
    public int StreamDays { get; set; } = 30;

    /// <summary>Whether messages are deleted at all (off by default).</summary>
    public bool Enabled => DirectDays > 0 || GroupDays > 0;

    internal void Validate(string section)
    {
        Days(DirectDays, $"{section}:{nameof(DirectDays)}");
        Days(GroupDays, $"{section}:{nameof(GroupDays)}");
        Days(StreamDays, $"{section}:{nameof(StreamDays)}");
        if (BatchSize is < 1 or > 10_000)
            throw new StartupException($"{section}:{nameof(BatchSize)} must be 1-10000 messages a delete, not {BatchSize}.");
        if (PauseMs is < 0 or > 60_000)
            throw new StartupException($"{section}:{nameof(PauseMs)} must be 0-60000 milliseconds, not {PauseMs}.");
        if (IntervalSeconds is < 1 or > 86_400)
            throw new StartupException($"{section}:{nameof(IntervalSeconds)} must be 1-86400 seconds, not {IntervalSeconds}.");
    }

    private static void Days(int value, string key)
    {
        if (value is < 0 or > MaxDays)
            throw new StartupException($"{key} must be 0 (keep forever) to {MaxDays} days, not {value}.");
    }
}

using System.Globalization;
using System.Threading.RateLimiting;

namespace EasyIm.Gateway.Connections;

/// <summary>The kinds of client frame, each with a budget of its own.</summary>
public enum FrameKind
{
    /// <summary>Chat messages and TYPING (easyim's rate limit).</summary>
    Chat,
    KeepAlive,
    /// <summary>ARRIVED and READ.</summary>
    Receipt,
    Sync,
    /// <summary>FRIEND_INVITE and FRIEND_AGREE.</summary>
    FriendEvent,
    /// <summary>A handshake, and with it a connect-time sync; or a token renewal on a heartbeat (per user only).</summary>
    Handshake,
    /// <summary>A request to the HTTP API with the user's token (per user only).</summary>
    Api,
    /// <summary>The bytes (UTF-8) of chat content, per user only: a token a byte.</summary>
    ChatBytes,
}

/// <summary>
/// A budget's numbers and how they read to a client. Each budget is a token bucket of
/// System.Threading.RateLimiting: <see cref="Burst"/> tokens at once, refilled at <see cref="PerSecond"/>.
/// </summary>
public sealed record FrameBudget(FrameKind Kind, double PerSecond, int Burst, bool PerUser)
{
    /// <summary>The bucket's options, refilled by whoever calls <see cref="ReplenishingRateLimiter.TryReplenish"/> (no timer each).</summary>
    public TokenBucketRateLimiterOptions BucketOptions()
    {
        // Whole tokens per period, the period set to give the rate: 0.5/s is one token every 2 s. Refilled
        // by hand, the bucket adds tokens for the time elapsed, so the period is only the rate's unit.
        var tokens = (int)Math.Min(int.MaxValue, Math.Ceiling(PerSecond));
        return new TokenBucketRateLimiterOptions
        {
            TokenLimit = Burst,
            TokensPerPeriod = tokens,
            ReplenishmentPeriod = TimeSpan.FromSeconds(tokens / PerSecond),
            QueueLimit = 0,
            AutoReplenishment = false,
        };
    }

    /// <summary>What the client reads in the NOTIFY 429: which budget, its numbers, and for whom.</summary>
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Name(Kind)} are over budget ({Burst} at once, then {Rate(PerSecond)}, {(PerUser ? "for this user across all its connections" : "on this connection")})");

    public static string Name(FrameKind kind) => kind switch
    {
        FrameKind.Chat => "chat messages and TYPING",
        FrameKind.KeepAlive => "heartbeats (KEEP_ALIVE)",
        FrameKind.Receipt => "receipts (ARRIVED, READ)",
        FrameKind.Sync => "SYNC requests",
        FrameKind.FriendEvent => "friend events (FRIEND_INVITE, FRIEND_AGREE)",
        FrameKind.Handshake => "handshakes and token renewals (each an auth check, a handshake also a sync)",
        FrameKind.Api => "HTTP API requests",
        FrameKind.ChatBytes => "bytes of chat content",
        _ => kind.ToString(),
    };

    private static string Rate(double perSecond) => perSecond >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{perSecond:0.###} per second")
        : string.Create(CultureInfo.InvariantCulture, $"one every {1 / perSecond:0.###} seconds");

    /// <summary>The per-connection budgets from the settings.</summary>
    public static FrameBudget ForConnection(GatewayOptions options, FrameKind kind) => kind switch
    {
        FrameKind.Chat => new(kind, options.RateLimit.PerSecond, options.RateLimit.Burst, false),
        FrameKind.KeepAlive => From(options.Budgets.KeepAlive, kind, false),
        FrameKind.Receipt => From(options.Budgets.Receipts, kind, false),
        FrameKind.Sync => From(options.Budgets.Sync, kind, false),
        FrameKind.FriendEvent => From(options.Budgets.FriendEvents, kind, false),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "no per-connection budget"),
    };

    /// <summary>The per-user budgets from the settings; null for a kind budgeted per connection only.</summary>
    public static FrameBudget? ForUser(GatewayOptions options, FrameKind kind) => kind switch
    {
        FrameKind.Chat => From(options.Budgets.ChatPerUser, kind, true),
        FrameKind.Receipt => From(options.Budgets.ReceiptsPerUser, kind, true),
        FrameKind.Sync => From(options.Budgets.SyncPerUser, kind, true),
        FrameKind.FriendEvent => From(options.Budgets.FriendEventsPerUser, kind, true),
        FrameKind.Handshake => From(options.Budgets.HandshakesPerUser, kind, true),
        FrameKind.Api => From(options.Budgets.ApiPerUser, kind, true),
        FrameKind.ChatBytes => From(options.Budgets.ChatBytesPerUser, kind, true),
        _ => null,
    };

    private static FrameBudget From(GatewayOptions.Budget budget, FrameKind kind, bool perUser) => new(kind, budget.PerSecond, budget.Burst, perUser);
}

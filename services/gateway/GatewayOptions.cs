using Microsoft.Extensions.Configuration;

namespace EasyIm.Gateway;

/// <summary>The <c>Gateway</c> section of the configuration.</summary>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>Long connections: raw TCP and WebSocket (easyim's <c>-port</c>).</summary>
    public int Port { get; set; } = 8888;
    /// <summary>HTTP API (easyim's <c>-apiport</c>).</summary>
    public int ApiPort { get; set; } = 8889;
    /// <summary>Idle seconds before a connection is closed.</summary>
    public int DropAfter { get; set; } = 300;
    /// <summary>Seconds a new connection has to complete its heartbeat handshake.</summary>
    public int HandshakeTimeout { get; set; } = 10;
    public int MaxFrameBytes { get; set; } = 64 * 1024;
    /// <summary>
    /// Longest chat content, in characters, that the gateway passes on; longer is answered FAIL here, without crossing
    /// the bus. Messaging applies its own <c>Messaging:MaxContentLength</c> (the same default); the smaller of the two holds.
    /// </summary>
    public int MaxContentLength { get; set; } = 16 * 1024;
    /// <summary>
    /// Frames waiting to be written to one connection. A client that stops reading fills it and is
    /// dropped, so it never holds up the others. Syncs are written in pages well below this.
    /// </summary>
    public int SendQueueCapacity { get; set; } = 2048;
    /// <summary>
    /// Bytes waiting to be written to one connection (the frames as the connection's format encodes them):
    /// a client that stops reading is dropped once its queue passes this, however few the frames. A frame
    /// larger than this still goes to a connection whose queue is empty.
    /// </summary>
    public int SendQueueBytes { get; set; } = 4 * 1024 * 1024;
    /// <summary>
    /// Live authenticated connections of one user on this gateway. At the cap a new handshake is refused
    /// (NOTIFY 429), unless one of the user's connections has been silent for <see cref="ReplaceSilentAfter"/>:
    /// that one, likely half-dead, is closed (NOTIFY 409) and the new one takes its place.
    /// </summary>
    public int MaxConnectionsPerUser { get; set; } = 10;
    /// <summary>Seconds without a frame after which a user's connection at the cap gives way to a new one.</summary>
    public int ReplaceSilentAfter { get; set; } = 90;
    /// <summary>This gateway's id on the bus (its receive endpoint is <c>gateway-{id}</c>); random per process when unset.</summary>
    public string? InstanceId { get; set; }
    /// <summary>Chat messages and TYPING per connection (the budget easyim clients know as the rate limit).</summary>
    public RateLimitOptions RateLimit { get; set; } = new();
    /// <summary>Every other frame kind's budget, per connection and per user.</summary>
    public BudgetOptions Budgets { get; set; } = new();

    /// <summary>
    /// Proxies whose word about the client's address is believed, comma-separated addresses and CIDR
    /// networks (<see cref="Proxies.TrustedProxies"/>); empty: none, every peer is the client.
    /// </summary>
    public string? TrustedProxies { get; set; }

    /// <summary>
    /// Whether the trusted proxies open each connection with a PROXY protocol header (nginx's stream
    /// <c>proxy_protocol on;</c>), on both ports. Off: they are HTTP proxies, believed by X-Forwarded-For only.
    /// </summary>
    public bool ProxyProtocol { get; set; } = true;

    /// <summary>Per client address budgets of the HTTP routes that cost the services the most (password hashing, new accounts).</summary>
    public ThrottleOptions Throttle { get; set; } = new();

    public sealed class RateLimitOptions
    {
        public int PerSecond { get; set; } = 100;
        public int Burst { get; set; } = 200;
    }

    /// <summary>A token bucket: <see cref="Burst"/> at once, then <see cref="PerSecond"/> (may be a fraction, 0.5 = one every 2 s).</summary>
    public sealed class Budget
    {
        public double PerSecond { get; set; }
        public int Burst { get; set; }
    }

    /// <summary>
    /// Frame budgets beside the chat rate limit. Over a budget the frame is dropped and answered NOTIFY 429
    /// naming the budget; <see cref="RefusalsBeforeClose"/> refusals within <see cref="RefusalWindow"/>
    /// seconds close the connection with NOTIFY 429. Per-user budgets are shared by the user's connections
    /// on this gateway and outlive them (a reconnect does not refill them).
    /// </summary>
    public sealed class BudgetOptions
    {
        public Budget KeepAlive { get; set; } = new() { PerSecond = 10, Burst = 500 };
        /// <summary>ARRIVED and READ.</summary>
        public Budget Receipts { get; set; } = new() { PerSecond = 100, Burst = 1000 };
        /// <summary>ARRIVED and READ of all the user's connections together: reconnecting does not buy a fresh burst.</summary>
        public Budget ReceiptsPerUser { get; set; } = new() { PerSecond = 200, Burst = 2000 };
        public Budget Sync { get; set; } = new() { PerSecond = 0.5, Burst = 5 };
        public Budget SyncPerUser { get; set; } = new() { PerSecond = 1, Burst = 10 };
        /// <summary>FRIEND_INVITE and FRIEND_AGREE over the connection.</summary>
        public Budget FriendEvents { get; set; } = new() { PerSecond = 2, Burst = 10 };
        public Budget FriendEventsPerUser { get; set; } = new() { PerSecond = 2, Burst = 20 };
        /// <summary>Chat messages and TYPING of all the user's connections together (per connection: <see cref="RateLimit"/>).</summary>
        public Budget ChatPerUser { get; set; } = new() { PerSecond = 200, Burst = 400 };
        /// <summary>
        /// Bytes (UTF-8) of chat content of all the user's connections together: 16 KB messages as fast as the
        /// message budgets allow are megabytes a second through the bus, the database and the recipients'
        /// queues. The default is about eight messages of the largest size a second, and a thousand of ordinary length.
        /// </summary>
        public Budget ChatBytesPerUser { get; set; } = new() { PerSecond = 128 * 1024, Burst = 1024 * 1024 };
        /// <summary>Handshakes of one user, each with its connect-time sync: reconnecting does not buy syncs.</summary>
        public Budget HandshakesPerUser { get; set; } = new() { PerSecond = 1, Burst = 30 };
        /// <summary>
        /// Messages a user's syncs (connect-time, SYNC, after a broker fault) replay, all its connections
        /// together, counted in messages, not frames: past it a sync is not refused but waits before its
        /// next page. A reconnect loop or a SYNC-from-0 loop would otherwise replay a whole history per try.
        /// </summary>
        public Budget SyncMessagesPerUser { get; set; } = new() { PerSecond = 200, Burst = 2000 };
        /// <summary>HTTP API requests with the user's token (friend invites and accepts over HTTP also draw from <see cref="FriendEventsPerUser"/>).</summary>
        public Budget ApiPerUser { get; set; } = new() { PerSecond = 20, Burst = 200 };
        public int RefusalsBeforeClose { get; set; } = 20;
        /// <summary>Seconds.</summary>
        public int RefusalWindow { get; set; } = 10;
    }

    public sealed class ThrottleOptions
    {
        /// <summary>Login attempts per client address: a password-guessing spray over many accounts from one address.</summary>
        public AddressBudget Login { get; set; } = new() { Limit = 50, WindowSeconds = 300 };
        /// <summary>Registrations per client address: accounts must not be free to make by the thousand.</summary>
        public AddressBudget Register { get; set; } = new() { Limit = 20, WindowSeconds = 3600 };
        /// <summary>Token refreshes per client address.</summary>
        public AddressBudget Refresh { get; set; } = new() { Limit = 60, WindowSeconds = 300 };
    }

    /// <summary><see cref="Limit"/> requests per <see cref="WindowSeconds"/>: a token bucket of that size, refilled evenly over the window.</summary>
    public sealed class AddressBudget
    {
        public int Limit { get; set; }
        public int WindowSeconds { get; set; }
    }

    /// <summary>
    /// The section as configured, validated. <c>TrustedProxies</c> may also be given as a list
    /// (<c>Gateway:TrustedProxies:0</c>, <c>:1</c>, ... as environment variables <c>Gateway__TrustedProxies__0</c>).
    /// </summary>
    public static GatewayOptions Read(IConfiguration configuration)
    {
        // The binder cannot put a list into the string property: the list's entries are taken out first.
        var proxiesKey = $"{Section}:{nameof(TrustedProxies)}";
        var listed = configuration.GetSection(proxiesKey).GetChildren().Select(c => c.Value).OfType<string>().ToList();
        var rest = new ConfigurationBuilder().AddInMemoryCollection(configuration.GetSection(Section).AsEnumerable()
            .Where(setting => setting.Value is not null && !setting.Key.StartsWith(proxiesKey + ":", StringComparison.OrdinalIgnoreCase))).Build();
        var options = Hosting.EasyImConfiguration.BindSection<GatewayOptions>(rest, Section);
        if (string.IsNullOrWhiteSpace(options.TrustedProxies) && listed.Count > 0)
            options.TrustedProxies = string.Join(",", listed);
        options.Validate();
        return options;
    }

    public TimeSpan DropAfterSpan => TimeSpan.FromSeconds(DropAfter);
    public TimeSpan HandshakeTimeoutSpan => TimeSpan.FromSeconds(HandshakeTimeout);
    public TimeSpan ReplaceSilentAfterSpan => TimeSpan.FromSeconds(ReplaceSilentAfter);

    /// <summary>Stops the process at start, naming the key, when a setting cannot work.</summary>
    public void Validate()
    {
        static void Require(bool ok, string key, string rule, object value)
        {
            if (!ok)
                throw new Hosting.StartupException($"{Section}:{key} must be {rule}, not '{value}'.");
        }
        static void RequireBudget(Budget budget, string key)
        {
            Require(double.IsFinite(budget.PerSecond) && budget.PerSecond is >= 0.001 and <= 1_000_000_000, $"Budgets:{key}:PerSecond",
                "a number of frames per second from 0.001 to 1000000000", budget.PerSecond);
            Require(budget.Burst >= 1, $"Budgets:{key}:Burst", "at least 1", budget.Burst);
        }
        Require(DropAfter > 0, nameof(DropAfter), "a positive number of seconds", DropAfter);
        Require(HandshakeTimeout > 0, nameof(HandshakeTimeout), "a positive number of seconds", HandshakeTimeout);
        Require(MaxFrameBytes is >= 1024 and <= 16 * 1024 * 1024, nameof(MaxFrameBytes), "from 1024 to 16777216 bytes", MaxFrameBytes);
        Require(MaxContentLength is >= 1 and <= 16 * 1024 * 1024, nameof(MaxContentLength), "from 1 to 16777216 characters", MaxContentLength);
        Require(SendQueueCapacity is >= 16 and <= 1_000_000, nameof(SendQueueCapacity), "from 16 to 1000000 frames", SendQueueCapacity);
        Require(SendQueueBytes >= 64 * 1024, nameof(SendQueueBytes), "at least 65536 bytes", SendQueueBytes);
        Require(MaxConnectionsPerUser is >= 1 and <= 100_000, nameof(MaxConnectionsPerUser), "from 1 to 100000", MaxConnectionsPerUser);
        Require(ReplaceSilentAfter > 0, nameof(ReplaceSilentAfter), "a positive number of seconds", ReplaceSilentAfter);
        Require(RateLimit.PerSecond > 0, "RateLimit:PerSecond", "a positive number", RateLimit.PerSecond);
        Require(RateLimit.Burst >= RateLimit.PerSecond, "RateLimit:Burst", $"at least RateLimit:PerSecond ({RateLimit.PerSecond})", RateLimit.Burst);
        RequireBudget(Budgets.KeepAlive, nameof(BudgetOptions.KeepAlive));
        RequireBudget(Budgets.Receipts, nameof(BudgetOptions.Receipts));
        RequireBudget(Budgets.ReceiptsPerUser, nameof(BudgetOptions.ReceiptsPerUser));
        RequireBudget(Budgets.Sync, nameof(BudgetOptions.Sync));
        RequireBudget(Budgets.SyncPerUser, nameof(BudgetOptions.SyncPerUser));
        RequireBudget(Budgets.FriendEvents, nameof(BudgetOptions.FriendEvents));
        RequireBudget(Budgets.FriendEventsPerUser, nameof(BudgetOptions.FriendEventsPerUser));
        RequireBudget(Budgets.ChatPerUser, nameof(BudgetOptions.ChatPerUser));
        RequireBudget(Budgets.HandshakesPerUser, nameof(BudgetOptions.HandshakesPerUser));
        RequireBudget(Budgets.SyncMessagesPerUser, nameof(BudgetOptions.SyncMessagesPerUser));
        RequireBudget(Budgets.ChatBytesPerUser, nameof(BudgetOptions.ChatBytesPerUser));
        RequireBudget(Budgets.ApiPerUser, nameof(BudgetOptions.ApiPerUser));
        Require(Budgets.RefusalsBeforeClose >= 1, "Budgets:RefusalsBeforeClose", "at least 1", Budgets.RefusalsBeforeClose);
        Require(Budgets.RefusalWindow > 0, "Budgets:RefusalWindow", "a positive number of seconds", Budgets.RefusalWindow);
        foreach (var (name, budget) in new[] { ("Login", Throttle.Login), ("Register", Throttle.Register), ("Refresh", Throttle.Refresh) })
        {
            Require(budget.Limit is >= 1 and <= 1_000_000_000, $"Throttle:{name}:Limit", "from 1 to 1000000000 requests", budget.Limit);
            Require(budget.WindowSeconds is >= 1 and <= 7 * 24 * 3600, $"Throttle:{name}:WindowSeconds", "from 1 to 604800 seconds", budget.WindowSeconds);
        }
        Proxies.TrustedProxies.Parse(TrustedProxies);
    }
}

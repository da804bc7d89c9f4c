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
    /// Frames waiting to be written to one connection. A client that stops reading fills it and is
    /// dropped, so it never holds up the others. Services push long backlogs in pages below this.
    /// </summary>
    public int SendQueueCapacity { get; set; } = 2048;
    /// <summary>This gateway's id on the bus (its receive endpoint is <c>gateway-{id}</c>); random per process when unset.</summary>
    public string? InstanceId { get; set; }
    public RateLimitOptions RateLimit { get; set; } = new();

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

    /// <summary>Stops the process at start, naming the key, when a setting cannot work.</summary>
    public void Validate()
    {
        static void Require(bool ok, string key, string rule, object value)
        {
            if (!ok)
                throw new Hosting.StartupException($"{Section}:{key} must be {rule}, not '{value}'.");
        }
        Require(DropAfter > 0, nameof(DropAfter), "a positive number of seconds", DropAfter);
        Require(HandshakeTimeout > 0, nameof(HandshakeTimeout), "a positive number of seconds", HandshakeTimeout);
        Require(MaxFrameBytes is >= 1024 and <= 16 * 1024 * 1024, nameof(MaxFrameBytes), "from 1024 to 16777216 bytes", MaxFrameBytes);
        Require(SendQueueCapacity is >= 16 and <= 1_000_000, nameof(SendQueueCapacity), "from 16 to 1000000 frames", SendQueueCapacity);
        Require(RateLimit.PerSecond > 0, "RateLimit:PerSecond", "a positive number", RateLimit.PerSecond);
        Require(RateLimit.Burst >= RateLimit.PerSecond, "RateLimit:Burst", $"at least RateLimit:PerSecond ({RateLimit.PerSecond})", RateLimit.Burst);
        foreach (var (name, budget) in new[] { ("Login", Throttle.Login), ("Register", Throttle.Register), ("Refresh", Throttle.Refresh) })
        {
            Require(budget.Limit is >= 1 and <= 1_000_000_000, $"Throttle:{name}:Limit", "from 1 to 1000000000 requests", budget.Limit);
            Require(budget.WindowSeconds is >= 1 and <= 7 * 24 * 3600, $"Throttle:{name}:WindowSeconds", "from 1 to 604800 seconds", budget.WindowSeconds);
        }
        Proxies.TrustedProxies.Parse(TrustedProxies);
    }
}

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
    public int MaxFrameBytes { get; set; } = 64 * 1024;
    public RateLimitOptions RateLimit { get; set; } = new();

    public sealed class RateLimitOptions
    {
        public int PerSecond { get; set; } = 100;
        public int Burst { get; set; } = 200;
    }
}

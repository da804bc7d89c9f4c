using Microsoft.Extensions.Configuration;

namespace EasyIm.Hosting.Presence;

/// <summary>
/// The <c>Presence</c> section: how gateways beat (read by the gateway) and how long a silent one is believed (read
/// by every service that routes pushes by presence).
/// </summary>
public sealed class PresenceOptions
{
    public const string Section = "Presence";

    /// <summary>How often a gateway publishes its presence beat. Each beat says its own period, and receivers judge its lease by that.</summary>
    public int HeartbeatSeconds { get; set; } = 5;
    /// <summary>A gateway whose beats stop for this many of its periods (measured on the gateways' own clocks) is taken for dead, with its users.</summary>
    public int MissedHeartbeats { get; set; } = 3;
    /// <summary>
    /// Every this many beats a gateway sends its full list of connected users instead of the changes (a reconcile):
    /// it bounds how long a receiver that lost a beat, and did not get the full list it asked for, routes by a stale
    /// list. 1 sends the full list every time (the old heartbeat's cost).
    /// </summary>
    public int FullListEvery { get; set; } = 12;
    /// <summary>
    /// A gateway also publishes the older full-list <c>GatewayHeartbeat</c> every beat, for services of a version
    /// before presence beats (a rolling upgrade: upgrade the gateways first with this on, then the services, then
    /// turn it off). Receivers that know the new beats ignore it from a gateway that sends them.
    /// </summary>
    public bool LegacyHeartbeat { get; set; }

    public static PresenceOptions Read(IConfiguration configuration)
    {
        var options = new PresenceOptions();
        configuration.GetSection(Section).Bind(options);
        if (options.HeartbeatSeconds is < 1 or > 300)
            throw new StartupException($"{Section}:{nameof(HeartbeatSeconds)} must be from 1 to 300 seconds, not {options.HeartbeatSeconds}.");
        if (options.MissedHeartbeats is < 2 or > 100)
            throw new StartupException($"{Section}:{nameof(MissedHeartbeats)} must be from 2 to 100 beats, not {options.MissedHeartbeats}.");
        if (options.FullListEvery is < 1 or > 10_000)
            throw new StartupException($"{Section}:{nameof(FullListEvery)} must be from 1 to 10000 beats, not {options.FullListEvery}.");
        return options;
    }
}

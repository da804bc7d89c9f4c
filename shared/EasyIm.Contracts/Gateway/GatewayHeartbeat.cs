namespace EasyIm.Contracts.Gateway;

/// <summary>
/// The presence beat of gateways before <see cref="GatewayPresenceReported"/>: every connected user, every few
/// seconds, stamped by the gateway. Receivers still accept it, as a full list with no epoch or beat count, so an
/// older gateway keeps working beside new ones during a rolling upgrade; no gateway publishes it any more.
/// </summary>
public sealed record GatewayHeartbeat(string GatewayId, IReadOnlyList<long> ConnectedUsers, DateTimeOffset At);

namespace EasyIm.Contracts.Gateway;

/// <summary>
/// Published by each gateway every few seconds: its presence lease. A gateway missing for
/// several beats is taken for dead, and its users' deliveries wait for their next connect.
/// <paramref name="ConnectedUsers"/> is every user with a live connection on it.
/// </summary>
public sealed record GatewayHeartbeat(string GatewayId, IReadOnlyList<long> ConnectedUsers, DateTimeOffset At);

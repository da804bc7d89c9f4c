namespace EasyIm.Contracts.Gateway;

/// <summary>Published by a gateway once a connection's handshake succeeded.</summary>
public sealed record UserConnected(long UserId, string GatewayId, string ConnectionId, string? DeviceId, DateTimeOffset At);

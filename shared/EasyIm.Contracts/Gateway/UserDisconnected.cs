namespace EasyIm.Contracts.Gateway;

public sealed record UserDisconnected(long UserId, string GatewayId, string ConnectionId, DateTimeOffset At);

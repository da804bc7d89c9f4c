using System.Text.Json.Serialization;

namespace EasyIm.Contracts.Gateway;

/// <summary>
/// Published by a gateway once a connection's handshake succeeded. <paramref name="SyncedByGateway"/>: the
/// gateway runs the connection's connect-time sync itself, page by page (<see cref="Messaging.SyncConversations"/>
/// as a request), so messaging does not push one; gateways before the budgets leave it false.
/// </summary>
public sealed record UserConnected(
    long UserId,
    string GatewayId,
    string ConnectionId,
    string? DeviceId,
    DateTimeOffset At,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool SyncedByGateway = false);

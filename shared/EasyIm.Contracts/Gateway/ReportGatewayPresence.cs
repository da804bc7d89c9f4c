namespace EasyIm.Contracts.Gateway;

/// <summary>
/// Asks a gateway (or, with no <paramref name="GatewayId"/>, every gateway) to make its next presence beat a full
/// list: published by a receiver that lost track of it (a gap in its beats, or a delta from a gateway it never had a
/// full list from).
/// </summary>
public sealed record ReportGatewayPresence(string? GatewayId);

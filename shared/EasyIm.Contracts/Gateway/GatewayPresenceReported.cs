using System.Text.Json.Serialization;

namespace EasyIm.Contracts.Gateway;

/// <summary>
/// A gateway's presence beat, published every <paramref name="EverySeconds"/>: its lease, stamped by the gateway
/// itself, and who is connected to it. <paramref name="Epoch"/> names the gateway process (its start time in Unix
/// ms): a larger one is a restart, whose state replaces the old process's at once. <paramref name="Beat"/> counts the
/// beats of the epoch from 0, so a receiver sees a lost beat as a gap. A <paramref name="Full"/> beat (the first,
/// every <c>Presence:FullListEvery</c>th, and any a receiver asked for with <see cref="ReportGatewayPresence"/>) lists
/// every connected user in <paramref name="Joined"/>; the others carry only the users who joined or left since the
/// beat before.
/// </summary>
/// <remarks>
/// Replaces <see cref="GatewayHeartbeat"/>, which new receivers still accept as a full list with no epoch (an older
/// gateway during a rolling upgrade); new gateways send only this, so receivers are upgraded first.
/// </remarks>
public sealed record GatewayPresenceReported(
    string GatewayId,
    long Epoch,
    long Beat,
    DateTimeOffset At,
    int EverySeconds,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] bool Full = false,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] IReadOnlyList<long>? Joined = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] IReadOnlyList<long>? Left = null);

namespace EasyIm.Contracts.Messaging;

/// <summary>ARRIVED and READ receipts from a gateway's connections, many per bus message.</summary>
public sealed record RecordReceipts(IReadOnlyList<Receipt> Receipts);

using System.Text.Json.Serialization;

namespace EasyIm.Contracts.Messaging;

/// <summary>
/// Where the next page of a sync starts: conversations are read in ordinal order of their ids; those
/// before <paramref name="ConversationId"/> are done, that one goes on after <paramref name="AfterSeq"/>,
/// the ones after it start at the request's cursors. <paramref name="RetainedFrom"/> carries, to the closing
/// SYNC event, the conversations whose cursor was older than their retained history (and where it starts).
/// <paramref name="Head"/>: in a sync after a stream position, the user's head read before its first page (every page
/// reads the stream up to it, and the SYNC event reports it).
/// </summary>
public sealed record SyncResume(string ConversationId, ulong AfterSeq,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] IReadOnlyDictionary<string, ulong>? RetainedFrom = null,
    [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)] long Head = 0);

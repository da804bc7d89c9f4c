using EasyIm.Contracts.Gateway;

namespace EasyIm.Contracts.Messaging;

/// <summary>
/// One page of a sync asked for as a request: the pushes for the connection, in order (at most
/// <c>Messaging:SyncPageSize</c> messages and about <c>Messaging:SyncPageBytes</c> of content), and where
/// the next page starts; <paramref name="Resume"/> null means this page ends with the closing SYNC event
/// (<see cref="UserPush.SyncedThrough"/>) and the sync is done.
/// </summary>
public sealed record SyncPage(IReadOnlyList<UserPush> Pushes, SyncResume? Resume);

namespace EasyIm.Contracts.Friends;

/// <summary>Members must be friends of the owner. Replies <see cref="GroupCreated"/> or <see cref="RequestRejected"/>.</summary>
public sealed record CreateGroup(long OwnerId, string Name, IReadOnlyList<long> MemberIds);

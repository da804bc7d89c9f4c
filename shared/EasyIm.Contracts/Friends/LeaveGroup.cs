namespace EasyIm.Contracts.Friends;

/// <summary>The owner leaving hands ownership to the next member, or dismisses the group when none is left. Replies <see cref="GroupMembersChanged"/> or <see cref="RequestRejected"/>.</summary>
public sealed record LeaveGroup(long UserId, long GroupId);

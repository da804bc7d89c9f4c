namespace EasyIm.Contracts.Friends;

/// <summary>
/// The group's owner (its admins, once groups have them) removes a member. Replies <see cref="GroupMembersChanged"/> or
/// <see cref="RequestRejected"/>: 404 no such group, or the user is not a member; 403 the caller is not a member or not
/// allowed to remove, or the member is the owner; 400 the caller names themselves (leaving is <see cref="LeaveGroup"/>).
/// </summary>
public sealed record RemoveFromGroup(long UserId, long GroupId, long MemberId);

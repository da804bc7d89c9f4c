namespace EasyIm.Contracts.Friends;

public sealed record FriendRequestAccepted(long RequestId, long InviterId, long InviteeId);

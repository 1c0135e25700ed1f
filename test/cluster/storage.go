package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// HostPathVolume is the storage the node offers a claim: a hostPath
// PersistentVolume on a directory in the cluster's own, bound ahead to the
// claim namespace/claim so that no other claim takes it. There is no
// storage class and no provisioner here; a claim without a class binds to
// a volume without one. The kubelet applies no fsGroup to a hostPath, so
// the directory is made for the pod's user, uid, as an administrator does
// for a hostPath volume. The volume keeps its data (Retain) when the claim
// goes; the caller deletes it, and the directory goes with the cluster.
func (c *Cluster) HostPathVolume(ctx context.Context, name, size string, uid int, namespace, claim string) (*corev1.PersistentVolume, error) {
	dir := filepath.Join(c.Dir, "volumes", name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create volume directory: %w", err)
	}
	if err := os.Chown(dir, uid, uid); err != nil {
		return nil, fmt.Errorf("give volume directory to %d: %w", uid, err)
	}
	q, err := resource.ParseQuantity(size)
	if err != nil {
		return nil, fmt.Errorf("volume size %q: %w", size, err)
	}
	directory := corev1.HostPathDirectory
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: q},
			AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              "",
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", Namespace: namespace, Name: claim},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: dir, Type: &directory}},
		},
	}
	cs, err := c.Client()
	if err != nil {
		return nil, err
	}
	created, err := cs.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("create PersistentVolume %s: %w", name, err)
	}
	return created, nil
}
